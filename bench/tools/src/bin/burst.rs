//! Benchmark: the burst simulation at scale. `cargo run --release -p vaultwatch-bench --bin burst -- [N] [SEED]`
//! (defaults: N = 10,000 backups, a seed from the clock). Prints the figures; exits 1 on any violation.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let backups: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1)
    });
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    match runtime.block_on(vaultwatch_tests::burst::Burst::new(seed).run(backups)) {
        Ok(figures) => {
            println!("burst of {backups} backups: all invariants hold\n{figures}");
            std::process::ExitCode::SUCCESS
        }
        Err((figures, failures)) => {
            println!("burst of {backups} backups: {} violations (seed {seed})\n{figures}", failures.len());
            for failure in failures.iter().take(20) {
                println!("  {failure}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
