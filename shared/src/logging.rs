//! Logging that follows Lambda's logging controls.
//!
//! Lambda passes the function's log settings as `AWS_LAMBDA_LOG_FORMAT`
//! (`Text` or `JSON`) and `AWS_LAMBDA_LOG_LEVEL`. The level wins over
//! `RUST_LOG`, as in the official runtime, so one setting in the function's
//! configuration controls every process of the environment.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt as layer_fmt, reload};

/// The output format chosen by `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `JSON` (any case) selects JSON lines; anything else is Text, Lambda's default.
    pub fn from_env_value(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// The filter directive: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
pub fn filter_directive(lambda_level: Option<&str>, rust_log: Option<&str>) -> String {
    match (lambda_level, rust_log) {
        (Some(level), _) if !level.trim().is_empty() => level.trim().to_lowercase(),
        (_, Some(rust_log)) if !rust_log.trim().is_empty() => rust_log.to_string(),
        _ => "info".to_string(),
    }
}

/// Text lines as `LEVEL message key=value`: no timestamp (the platform
/// stamps every line itself) and no padding.
struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "{} ", event.metadata().level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the global subscriber, writing to stdout without ANSI colours:
/// Lambda captures stdout line by line.
pub fn init() {
    install(false);
}

/// Like [`init`], and returns a handle that changes the level while the
/// process runs: for a level that comes from somewhere else than the
/// function's configuration, such as AppConfig.
pub fn init_adjustable() -> LevelControl {
    install(true)
}

/// Replaces the installed subscriber's filter.
type Reload = Box<dyn Fn(Targets) -> Result<(), String> + Send + Sync>;

/// A directive such as `debug` or `warn,my_crate=trace` as a filter.
/// `Targets` takes the `target=level` directives of `RUST_LOG`, without
/// `EnvFilter`'s span and field matching, which would link a regex engine
/// (a megabyte) into every extension for nothing they use.
fn parse(directive: &str) -> Result<Targets, String> {
    directive
        .parse::<Targets>()
        .map_err(|e| format!("{directive:?} is not a log level: {e}"))
}

/// Changes the level of the subscriber [`init_adjustable`] installed.
pub struct LevelControl {
    reload: Option<Reload>,
}

impl LevelControl {
    /// Sets a filter directive such as `debug` or `warn`.
    pub fn set(&self, directive: &str) -> Result<(), String> {
        let filter = parse(directive)?;
        match &self.reload {
            Some(reload) => reload(filter),
            None => Err("the log level is fixed: install logging with init_adjustable".into()),
        }
    }
}

fn install(adjustable: bool) -> LevelControl {
    let format = LogFormat::from_env_value(std::env::var("AWS_LAMBDA_LOG_FORMAT").ok().as_deref());
    let directive = filter_directive(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let filter =
        parse(&directive).unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let layer = layer_fmt::layer()
        .with_ansi(false)
        .with_target(false)
        .with_writer(std::io::stdout);
    // The two formats are different types; the filter's handle is one.
    match format {
        LogFormat::Json => registry.with(layer.json().flatten_event(true)).init(),
        LogFormat::Text => registry.with(layer.event_format(TextLine)).init(),
    }
    LevelControl {
        reload: adjustable.then(|| -> Reload {
            Box::new(move |filter| handle.reload(filter).map_err(|e| e.to_string()))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_level_wins_over_rust_log() {
        assert_eq!(filter_directive(Some("DEBUG"), Some("warn")), "debug");
        assert_eq!(filter_directive(None, Some("warn")), "warn");
        assert_eq!(filter_directive(Some(""), None), "info");
    }

    #[test]
    fn json_only_when_asked() {
        assert_eq!(LogFormat::from_env_value(Some("JSON")), LogFormat::Json);
        assert_eq!(LogFormat::from_env_value(Some("Text")), LogFormat::Text);
        assert_eq!(LogFormat::from_env_value(None), LogFormat::Text);
    }

    #[test]
    fn directives_parse_as_rust_log_does_and_bad_ones_say_so() {
        assert!(parse("debug").is_ok());
        assert!(parse("warn,appconfig_reader=trace").is_ok());
        let error = parse("shipper=loud").unwrap_err();
        assert!(
            error.starts_with("\"shipper=loud\" is not a log level"),
            "{error}"
        );
    }
}
