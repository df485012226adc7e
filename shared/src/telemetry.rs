//! Logging: JSON lines to stdout (CloudWatch Logs). The level is the function's application log
//! level (`AWS_LAMBDA_LOG_LEVEL`, which Lambda sets from the template's `LoggingConfig`), `info` when
//! unset; `RUST_LOG` overrides it for the targets it names. Every line written during an invocation
//! carries its request id (`span.requestId`, from lambda_runtime's invocation span).
//!
//! `RUST_LOG` takes a level (`warn`) or comma-separated `target=level` directives
//! (`vaultwatch=debug,warn`), parsed as [`Targets`]. `EnvFilter`'s span and field filters are not
//! supported: they pull a regex engine into every binary for a feature a Lambda log level does not
//! need (its size: docs/tuning.md, "Cold start").

use tracing_subscriber::filter::{filter_fn, FilterExt, LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// The span lambda_runtime opens around each invocation, with its `requestId`.
const INVOCATION_SPAN: &str = "Lambda runtime invoke";

pub fn init() {
    let env = |name| std::env::var(name).ok();
    let (filter, problems) = log_filter(env("RUST_LOG").as_deref(), env("AWS_LAMBDA_LOG_LEVEL").as_deref());
    // The invocation span is kept whatever the level, so every line that is written names its request.
    let filter = filter.or(filter_fn(|meta| meta.is_span() && meta.name() == INVOCATION_SPAN));
    let format =
        tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false).with_target(false);
    tracing_subscriber::registry().with(format.with_filter(filter)).init();
    for problem in problems {
        tracing::warn!("{problem}");
    }
}

/// The filter the environment asks for, and what in it could not be read (logged, never fatal).
fn log_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> (Targets, Vec<String>) {
    let mut problems = Vec::new();
    let level = match lambda_level.map(str::trim).filter(|value| !value.is_empty()) {
        None => LevelFilter::INFO,
        Some(value) => lambda_log_level(value).unwrap_or_else(|| {
            problems.push(format!("AWS_LAMBDA_LOG_LEVEL={value:?} is not a log level; logging at info"));
            LevelFilter::INFO
        }),
    };
    let default = Targets::new().with_default(level);
    let targets = match rust_log.map(str::trim).filter(|value| !value.is_empty()) {
        None => default,
        Some(value) => match value.parse::<Targets>() {
            // Targets RUST_LOG does not name log at the function's level.
            Ok(targets) if targets.default_level().is_none() => targets.with_default(level),
            Ok(targets) => targets,
            Err(err) => {
                problems.push(format!("RUST_LOG={value:?} is not a log filter ({err}); ignored"));
                default
            }
        },
    };
    (targets, problems)
}

/// Lambda's application log levels (TRACE, DEBUG, INFO, WARN, ERROR, FATAL).
fn lambda_log_level(value: &str) -> Option<LevelFilter> {
    Some(match value.to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "INFO" => LevelFilter::INFO,
        "WARN" => LevelFilter::WARN,
        // tracing has no level above ERROR.
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_the_level_per_target_and_falls_back_to_info() {
        let (filter, problems) = log_filter(Some("vaultwatch=debug,warn"), None);
        assert!(problems.is_empty());
        assert!(filter.would_enable("vaultwatch::handlers", &Level::DEBUG));
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));

        for unset in [None, Some(""), Some("  ")] {
            let (filter, problems) = log_filter(unset, None);
            assert!(problems.is_empty());
            assert!(filter.would_enable("vaultwatch", &Level::INFO));
            assert!(!filter.would_enable("vaultwatch", &Level::DEBUG));
        }

        let (filter, problems) = log_filter(Some("vaultwatch=loud"), None);
        assert!(problems[0].contains("vaultwatch=loud"));
        assert!(filter.would_enable("vaultwatch", &Level::INFO));
        assert!(!filter.would_enable("vaultwatch", &Level::DEBUG));
    }

    #[test]
    fn the_lambda_log_level_is_the_default_and_rust_log_overrides_the_targets_it_names() {
        let (filter, problems) = log_filter(None, Some("WARN"));
        assert!(problems.is_empty());
        assert!(filter.would_enable("vaultwatch", &Level::WARN) && !filter.would_enable("vaultwatch", &Level::INFO));
        let (filter, _) = log_filter(None, Some("fatal"));
        assert!(filter.would_enable("vaultwatch", &Level::ERROR) && !filter.would_enable("vaultwatch", &Level::WARN));
        let (filter, _) = log_filter(None, Some("DEBUG"));
        assert!(filter.would_enable("vaultwatch", &Level::DEBUG));

        let (filter, _) = log_filter(Some("vaultwatch=debug"), Some("ERROR"));
        assert!(filter.would_enable("vaultwatch::retrier", &Level::DEBUG), "RUST_LOG names vaultwatch");
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::WARN), "the rest at the Lambda level");
        assert!(filter.would_enable("aws_smithy_runtime", &Level::ERROR));

        let (filter, problems) = log_filter(None, Some("CHATTY"));
        assert!(problems[0].contains("CHATTY") && filter.would_enable("vaultwatch", &Level::INFO));
    }
}
