//! Local stand-ins, with the real protocols, for the AWS services the
//! examples call: an S3 endpoint (`s3`) and the AppConfig agent
//! (`appconfig_agent`).

pub mod appconfig_agent;
pub mod s3;
