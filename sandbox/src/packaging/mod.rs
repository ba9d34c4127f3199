//! What the environment runs and how: the layers merged into `/opt` and
//! the checks on them (`layers`), function packages for tests and tools
//! (`package`), the managed runtimes' command lines (`managed_runtime`),
//! each process's variables (`env_vars`), and the processes themselves
//! (`process`).

pub mod env_vars;
pub mod layers;
pub mod managed_runtime;
pub mod package;
pub mod process;
