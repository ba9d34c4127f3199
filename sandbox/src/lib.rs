//! A local AWS Lambda execution environment.
//!
//! It launches external extensions from layer folders, runs the function's
//! `bootstrap`, serves the Runtime and Extensions APIs on loopback, and drives
//! Init, Invoke and Shutdown the way Lambda does, freezing the processes
//! between invokes. Everything runs as real processes on this machine: no
//! Docker, no AWS account.
//!
//! The folders are the platform's parts: [`api`] is the environment's one
//! HTTP endpoint (the Runtime, Extensions, Logs and Telemetry APIs);
//! `lifecycle` runs Init, Invoke and Shutdown; [`streams`] records every
//! platform event and log line and delivers them to subscribers;
//! `packaging` lays out layers and packages and runs the processes;
//! `isolation` gives them Lambda's file system, names and process tree;
//! `stand_ins` serve S3 and the AppConfig agent locally. [`invoke_api`] is
//! the Lambda Invoke API in front of an environment, for `serve`.

pub mod api;
pub mod config;
pub mod invoke_api;
mod isolation;
mod lifecycle;
pub mod output;
mod packaging;
pub mod sample_events;
mod stand_ins;
mod state;
pub mod streams;

// The library's paths, kept flat for its users.
pub use config::{BusyAnswer, Config, InitType, ShutdownBudgets};
pub use lifecycle::environment::{Busy, Environment, NoSnapshot, Registration, StartError};
pub use lifecycle::invocation::{InvokeRequest, InvokeResult, Status, StreamPart, StreamSink};
pub use packaging::package::Package;
pub use packaging::{layers, managed_runtime, package};
pub use stand_ins::{appconfig_agent, s3 as s3_endpoint};
pub use streams::journal;
pub use streams::journal::Record;
