//! Prints AWS API calls per event, per function (see `vaultwatch_tests::calls`), as a Markdown table.

use vaultwatch_tests::calls::{budget, measure_all};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("| function | event | AWS Backup calls | all AWS calls | target |");
    println!("|---|---|---|---|---|");
    for (function, event, (backup, all)) in measure_all().await {
        println!("| {function} | {event} | {backup} | {all} | <= {} |", budget(function, event));
    }
}
