//! The streams: every platform event and log line, recorded once in the
//! journal and delivered to the Logs and Telemetry subscribers.
//!
//! `record` is the shape both share; `delivery` sends one subscriber its
//! records and reports what it drops through [`delivery::Reporter`], which
//! the journal implements, so that the journal depends on delivery and not
//! the other way round. `timeline` keeps who talked to whom and when, for
//! the lifecycle picture.

pub mod delivery;
pub mod journal;
pub mod record;
pub mod timeline;
