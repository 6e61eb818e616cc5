//! `Leases` contract: all-or-none acquisition, re-acquisition by the holder, takeover of expired
//! leases (at `until` exactly), release only by the holder.

use std::time::Duration;

use greenfleet_core::ids::{RolloutId, Timestamp};
use greenfleet_core::memory::MemoryLeases;
use greenfleet_core::ports::{LeaseKey, LeaseOutcome, Leases};

use super::{emulator, unique};
use crate::dynamo::DynamoStore;
use crate::provision::table;

const T: u64 = 1_700_000_000_000;

fn at(ms: u64) -> Timestamp {
    Timestamp(T + ms)
}

fn key(s: &str) -> LeaseKey {
    LeaseKey(s.to_owned())
}

fn rid(s: &str) -> RolloutId {
    RolloutId::parse(s).expect("valid rollout id")
}

fn busy(k: &LeaseKey, holder: &RolloutId) -> LeaseOutcome {
    LeaseOutcome::Busy { key: k.clone(), holder: holder.clone() }
}

/// The whole `Leases` contract, as one story on one lease table.
pub(crate) async fn check_leases(l: &dyn Leases) {
    let (r1, r2, r3) = (rid("rel-1"), rid("rel-2"), rid("rel-3"));
    let (ga, gb, dg) = (key("group#sig-a"), key("group#sig-b"), key("dg#web/web-bg"));
    let acquired = LeaseOutcome::Acquired;

    assert_eq!(l.acquire(&[ga.clone(), dg.clone()], &r1, at(100), at(0)).await.expect("acquire"), acquired);
    assert_eq!(l.acquire(&[], &r2, at(100), at(0)).await.expect("acquire nothing"), acquired);

    // Busy names the first busy key in the caller's order, and nothing is taken (all or none).
    assert_eq!(l.acquire(&[gb.clone(), dg.clone()], &r2, at(100), at(10)).await.expect("acquire"), busy(&dg, &r1));
    assert_eq!(l.acquire(std::slice::from_ref(&gb), &r3, at(100), at(10)).await.expect("gb stayed free"), acquired);
    assert_eq!(l.acquire(&[dg.clone(), gb.clone()], &r2, at(100), at(10)).await.expect("acquire"), busy(&dg, &r1));
    assert_eq!(l.acquire(&[gb.clone(), dg.clone()], &r2, at(100), at(10)).await.expect("acquire"), busy(&gb, &r3));

    // The holder may ask again (a redelivered Lock step), which extends its lease.
    assert_eq!(l.acquire(&[ga.clone(), dg.clone()], &r1, at(200), at(50)).await.expect("re-acquire"), acquired);
    assert_eq!(l.acquire(std::slice::from_ref(&ga), &r2, at(300), at(150)).await.expect("acquire"), busy(&ga, &r1));

    // A lease whose `until` is not after `now` is taken over.
    assert_eq!(l.acquire(std::slice::from_ref(&ga), &r2, at(400), at(200)).await.expect("takeover at until"), acquired);
    assert_eq!(l.acquire(std::slice::from_ref(&ga), &r3, at(500), at(210)).await.expect("acquire"), busy(&ga, &r2));

    // Release by someone else changes nothing; release by the holder frees only its own keys.
    l.release(std::slice::from_ref(&ga), &r1).await.expect("release by a former holder");
    assert_eq!(l.acquire(std::slice::from_ref(&ga), &r3, at(500), at(210)).await.expect("acquire"), busy(&ga, &r2));
    l.release(&[ga.clone(), gb.clone()], &r2).await.expect("release");
    assert_eq!(l.acquire(std::slice::from_ref(&gb), &r2, at(500), at(60)).await.expect("acquire"), busy(&gb, &r3));
    assert_eq!(
        l.acquire(std::slice::from_ref(&ga), &r3, at(500), at(210)).await.expect("freed by its holder"),
        acquired
    );
    l.release(&[key("group#never-held")], &r3).await.expect("release of a free key");

    // Asking twice for one key is the same as asking once.
    let gc = key("group#sig-c");
    assert_eq!(l.acquire(&[gc.clone(), gc.clone()], &r1, at(500), at(0)).await.expect("duplicate keys"), acquired);
    assert_eq!(l.acquire(std::slice::from_ref(&gc), &r2, at(500), at(0)).await.expect("acquire"), busy(&gc, &r1));
}

#[tokio::test]
async fn memory_leases_meet_the_contract() {
    check_leases(&MemoryLeases::default()).await;
}

#[tokio::test]
async fn dynamo_leases_meet_the_contract() {
    let cfg = emulator().await;
    let name = unique("lease");
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    table::ensure(&client, &name, Duration::from_secs(60)).await.expect("create the test table");
    check_leases(&DynamoStore::new(client.clone(), name.clone())).await;
    table::delete(&client, &name).await.expect("delete the test table");
}
