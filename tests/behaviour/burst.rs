//! The burst under faults (see `vaultwatch_tests::burst`): 500 backups, duplicates, shuffling,
//! throttling, 5xx and random copy failures; every invariant must hold. Seeded and reproducible:
//! `BURST_SEED=<seed> cargo test -p vaultwatch-tests --test behaviour burst::` replays a failure.

use vaultwatch_tests::burst::Burst;

#[tokio::test]
async fn a_faulty_burst_loses_nothing_and_duplicates_nothing() {
    let seed = std::env::var("BURST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261125);
    match Burst::new(seed).run(500).await {
        Ok(figures) => {
            assert!(figures.faults_injected.values().sum::<usize>() > 0, "faults were injected");
            assert!(figures.duplicates_absorbed > 0 && figures.retries > 0 && figures.alerts > 0, "{figures}");
            println!("{figures}");
        }
        Err((figures, failures)) => panic!(
            "seed {seed}: {} violations, first: {:?}\n{figures}",
            failures.len(),
            &failures[..failures.len().min(10)]
        ),
    }
}

#[tokio::test]
async fn when_lambda_gives_up_the_reconciler_makes_it_good() {
    // Faults so frequent that invocations exhaust Lambda's retries and land in the failure
    // destination, and no duplicate delivery to make up for them: the scheduled reconciler must
    // still bring about every copy, retry and alert.
    let seed = std::env::var("BURST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    match Burst::with_fault_rates(seed, 0.45, 0.10).deliveries_up_to(1).run(300).await {
        Ok(figures) => {
            assert!(figures.kept_in_failure_destination > 0, "the scenario must overwhelm Lambda's retries\n{figures}");
            assert!(figures.reconciler_runs > 1, "{figures}");
            println!("{figures}");
        }
        Err((figures, failures)) => panic!(
            "seed {seed}: {} violations, first: {:?}\n{figures}",
            failures.len(),
            &failures[..failures.len().min(10)]
        ),
    }
}
