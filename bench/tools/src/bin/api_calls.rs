//! Prints AWS API calls per event, per function (see `vaultwatch_tests::calls`), as a Markdown table.

use vaultwatch_tests::calls::measure_all;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("| function | event | AWS Backup calls | all AWS calls | target |");
    println!("|---|---|---|---|---|");
    for row in measure_all().await {
        println!("| {} | {} | {} | {} | <= {} |", row.function, row.event, row.backup_calls, row.all_calls, row.budget);
    }
}
