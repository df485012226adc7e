//! The AWS calls each function makes per event stay within the targets (`vaultwatch_tests::calls`:
//! tracker 1 or 2, retrier 4 to 6 by path, copier routes + 1), counted by in-memory ports; one port
//! call is one AWS request.

use vaultwatch_tests::calls::measure_all;

#[tokio::test]
async fn every_common_path_stays_within_its_call_budget() {
    let rows = measure_all().await;
    assert_eq!(rows.len(), 15);
    for row in rows {
        let (function, event, all) = (row.function, row.event, row.all_calls);
        assert!(all >= 1, "{function}: {event}: no call counted");
        assert!(all <= row.budget, "{function}: {event}: {all} calls, budget {}", row.budget);
    }
}
