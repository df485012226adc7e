//! Behaviour tests across the workspace, one module per function or concern, driven by the
//! reference payloads in `fixtures/`. One binary: `cargo test -p vaultwatch-tests --test behaviour <module>::`.

mod air_gapped;
mod alerts;
mod burst;
mod call_budget;
mod classification;
mod contract;
mod copier;
mod coverage;
mod evidence;
mod logs;
mod malformed;
mod metrics;
mod missing_copies;
mod organization;
mod parsing;
mod path_watch;
mod paths;
mod properties;
mod reconciler;
mod retrier;
mod store_contract;
mod tracker;
mod vault_setup;
