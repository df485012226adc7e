//! The AWS calls each function makes per event stay within the targets: tracker 1, retrier 4,
//! copier routes + 1 (counted by in-memory ports; one port call is one AWS request).

use vaultwatch_tests::calls::{budget, measure_all};

#[tokio::test]
async fn every_common_path_stays_within_its_call_budget() {
    let rows = measure_all().await;
    assert_eq!(rows.len(), 12);
    for (function, event, (_, all)) in rows {
        assert!(all >= 1, "{function}: {event}: no call counted");
        assert!(all <= budget(function, event), "{function}: {event}: {all} calls");
    }
}
