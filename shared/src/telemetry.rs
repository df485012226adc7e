//! Logging: JSON lines to stdout (CloudWatch Logs), level from `RUST_LOG` (default `info`).
//!
//! `RUST_LOG` takes a level (`warn`) or comma-separated `target=level` directives
//! (`vaultwatch=debug,warn`), parsed as [`Targets`]. `EnvFilter`'s span and field filters are not
//! supported: they pull a regex engine into every binary for a feature a Lambda log level does not
//! need (its size: docs/tuning.md, "Cold start").

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

pub fn init() {
    let (filter, problem) = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let format =
        tracing_subscriber::fmt::layer().json().with_current_span(false).with_span_list(false).with_target(false);
    tracing_subscriber::registry().with(format.with_filter(filter)).init();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

/// The filter `RUST_LOG` asks for; `info` when unset or unreadable, with the reason to log.
fn log_filter(rust_log: Option<&str>) -> (Targets, Option<String>) {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match rust_log.map(str::trim).filter(|value| !value.is_empty()) {
        None => (default, None),
        Some(value) => match value.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(err) => (default, Some(format!("RUST_LOG={value:?} is not a log filter ({err}); logging at info"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_the_level_per_target_and_falls_back_to_info() {
        let (filter, problem) = log_filter(Some("vaultwatch=debug,warn"));
        assert!(problem.is_none());
        assert!(filter.would_enable("vaultwatch::handlers", &Level::DEBUG));
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));

        for unset in [None, Some(""), Some("  ")] {
            let (filter, problem) = log_filter(unset);
            assert!(problem.is_none());
            assert!(filter.would_enable("vaultwatch", &Level::INFO));
            assert!(!filter.would_enable("vaultwatch", &Level::DEBUG));
        }

        let (filter, problem) = log_filter(Some("vaultwatch=loud"));
        assert!(problem.unwrap().contains("vaultwatch=loud"));
        assert!(filter.would_enable("vaultwatch", &Level::INFO));
        assert!(!filter.would_enable("vaultwatch", &Level::DEBUG));
    }
}
