//! Helpers shared by every example in this repository.
//!
//! Each module does one job that at least two examples need:
//! - [`config`]: read settings from environment variables with errors that name the variable;
//! - [`deadline`]: the time left until a Runtime or Extensions API deadline;
//! - [`logging`]: a `tracing` subscriber that honours Lambda's logging controls;
//! - [`runtime_api`]: turn `AWS_LAMBDA_RUNTIME_API` into base URLs for the Runtime and Extensions APIs;
//! - `s3` (feature `s3`): an S3 client configured from the environment, as on Lambda.

pub mod config;
pub mod deadline;
pub mod logging;
pub mod runtime_api;
#[cfg(feature = "s3")]
pub mod s3;
