//! Logging that follows Lambda's logging controls.
//!
//! Lambda passes the function's log settings as `AWS_LAMBDA_LOG_FORMAT`
//! (`Text` or `JSON`) and `AWS_LAMBDA_LOG_LEVEL`. The level wins over
//! `RUST_LOG`, as in the official runtime, so one setting in the function's
//! configuration controls every process of the environment.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
type Reload = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// Changes the level of the subscriber [`init_adjustable`] installed.
pub struct LevelControl {
    reload: Option<Reload>,
}

impl LevelControl {
    /// Sets a filter directive such as `debug` or `warn`.
    pub fn set(&self, directive: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(directive)
            .map_err(|e| format!("{directive:?} is not a log level: {e}"))?;
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
    let filter = EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_writer(std::io::stdout);
    // The two formats are different types, and so are their reload handles.
    macro_rules! finish {
        ($builder:expr) => {{
            if adjustable {
                let builder = $builder.with_filter_reloading();
                let handle = builder.reload_handle();
                builder.init();
                LevelControl {
                    reload: Some(Box::new(move |filter| {
                        handle.reload(filter).map_err(|e| e.to_string())
                    })),
                }
            } else {
                $builder.init();
                LevelControl { reload: None }
            }
        }};
    }
    match format {
        LogFormat::Json => finish!(builder.json().flatten_event(true)),
        LogFormat::Text => finish!(builder.event_format(TextLine)),
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
}
