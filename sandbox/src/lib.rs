//! A local AWS Lambda execution environment.
//!
//! It launches external extensions from layer folders, runs the function's
//! `bootstrap`, serves the Runtime and Extensions APIs on loopback, and drives
//! Init, Invoke and Shutdown the way Lambda does, freezing the processes
//! between invokes. Everything runs as real processes on this machine: no
//! Docker, no AWS account.
//!
//! The modules follow the reference (`lambda-execution-environment.md`):
//! [`api`] is the one HTTP endpoint, split into `runtime_api` and
//! `extensions_api`; `init`, `invoke` and `shutdown` are the lifecycle phases;
//! `layers` builds `/opt` from layer folders; `env_vars` gives each process
//! its variables; `process` runs them; [`journal`] keeps every platform event
//! and log line. [`s3_endpoint`] and [`appconfig_agent`] stand in for the AWS
//! services the examples call.

pub mod api;
pub mod appconfig_agent;
pub mod config;
mod delivery;
mod env_vars;
mod environment;
mod extensions_api;
mod init;
mod invoke;
pub mod invoke_api;
mod isolation;
pub mod journal;
pub mod layers;
pub mod managed_runtime;
pub mod output;
pub mod package;
mod process;
mod runtime_api;
pub mod s3_endpoint;
pub mod sample_events;
mod shutdown;
mod state;
mod subscription_api;

pub use config::{Config, ShutdownBudgets};
pub use environment::{Environment, InvokeRequest, InvokeResult, Registration, StartError, Status};
pub use journal::Record;
pub use package::Package;
