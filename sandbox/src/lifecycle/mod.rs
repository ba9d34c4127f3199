//! The execution environment's life: Init, Restore (SnapStart), Invoke and
//! Shutdown (each phase a module), over the environment's parts in `core`. `environment` is the
//! library's handle on it; `invocation` what a caller sends and receives;
//! `concurrent_invoke` the Invoke phase of Managed Instances, several at once.
//! The phases depend on `core` and on each other one way (an invoke may run
//! a suppressed Init or a Restore, and all may end in a Shutdown); `environment` on
//! all of them, and nothing here on `environment`.

pub mod concurrent_invoke;
pub mod core;
pub mod environment;
pub mod init;
pub mod invocation;
pub mod invoke;
pub mod restore;
pub mod shutdown;
