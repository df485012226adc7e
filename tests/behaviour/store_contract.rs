//! The in-memory store keeps the tracking store's contract: the suite the DynamoDB adapter passes
//! on moto too (tests/src/store_contract.rs), so the behaviour tests rest only on what both do.

use vaultwatch::domain::CopyJobId;
use vaultwatch::ports::memory::MemoryStore;

#[tokio::test]
async fn the_memory_store_keeps_the_store_contract() {
    let store = MemoryStore::new();
    vaultwatch_tests::store_contract::all(&store, |name| CopyJobId::parse(name).unwrap()).await;
}
