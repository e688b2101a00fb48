use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::*;
use crate::config::SyncMode;
use crate::store::Store;

pub(super) fn msg(dest: &str, body: &str, persistent: bool) -> StoredMessage {
    StoredMessage {
        seq: 0,
        destination: dest.into(),
        headers: vec![],
        body: body.as_bytes().to_vec(),
        persistent,
        timestamp: 0,
        redelivery_count: 0,
        producer: None,
    }
}

/// A broker on a fresh store (local_mem, a lease that holds): shared by the broker's tests.
pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) store: Arc<Store>,
    pub(super) broker: Broker,
    writer: Writer,
}

pub(super) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (_tx, acked) = watch::channel(u64::MAX);
    let lease = Arc::new(crate::election::lease::Lease::new(Duration::from_secs(60)));
    lease.renew();
    let writer = Writer::start(store.clone(), SyncMode::parse("local_mem").unwrap(), acked, lease).unwrap();
    let broker = Broker::new(writer.clone(), store.snapshot().unwrap());
    Fixture { _dir: dir, store, broker, writer }
}

fn sub(dest: Destination, ack: AckMode, prefetch: usize) -> Subscription {
    Subscription { destination: dest, ack, prefetch, durable: None }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(1), rx.recv()).await.unwrap().unwrap()
}

#[tokio::test]
async fn queue_competing_consumers_prefetch_and_redelivery() {
    let f = fixture();
    let q = Destination::queue("orders");
    let (tx1, mut rx1) = mpsc::unbounded_channel();
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let c1 = f.broker.subscribe(1, sub(q.clone(), AckMode::ClientIndividual, 1), tx1).await.unwrap();
    let c2 = f.broker.subscribe(2, sub(q.clone(), AckMode::ClientIndividual, 1), tx2).await.unwrap();
    for i in 0..4 {
        f.broker.send(&q, msg("/queue/orders", &format!("m{i}"), true)).await.unwrap();
    }
    // Prefetch 1 each: one message apiece, the rest pending.
    let d1 = next(&mut rx1).await;
    let d2 = next(&mut rx2).await;
    assert_ne!(d1.msg.seq, d2.msg.seq);
    assert!(rx1.try_recv().is_err() && rx2.try_recv().is_err());
    // Consumer 2 dies unacked: its message goes to consumer 1 (after it acks), marked redelivered.
    f.broker.disconnect(2);
    f.broker.ack(c1, d1.msg.seq, false).await.unwrap();
    let again = next(&mut rx1).await;
    assert_eq!(again.msg.seq, d2.msg.seq);
    assert!(again.redelivered);
    assert!(f.broker.ack(c2, d2.msg.seq, false).await.is_err(), "gone consumer");
    // Persistent state: 3 left in the store index until acked.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(f.store.snapshot().unwrap().stores["orders"].len(), 3);
}

#[tokio::test]
async fn client_ack_is_cumulative_and_nack_goes_to_the_dlq() {
    let f = fixture();
    let q = Destination::queue("q");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = f.broker.subscribe(1, sub(q.clone(), AckMode::Client, 10), tx).await.unwrap();
    for i in 0..3 {
        f.broker.send(&q, msg("/queue/q", &format!("m{i}"), true)).await.unwrap();
    }
    let ds: Vec<Delivery> = vec![next(&mut rx).await, next(&mut rx).await, next(&mut rx).await];
    f.broker.ack(c, ds[1].msg.seq, true).await.unwrap();
    f.broker.nack(c, ds[2].msg.seq).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let snap = f.store.snapshot().unwrap();
    assert!(!snap.stores.contains_key("q"), "{:?}", snap.stores.keys());
    let dead = &snap.stores[DLQ];
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, b"m2");
    assert!(dead[0].headers.contains(&("original-destination".into(), "/queue/q".into())));
}

#[tokio::test]
async fn topics_fan_out_and_durable_subscriptions_keep_messages() {
    let f = fixture();
    let t = Destination::topic("news");
    let durable = Subscription {
        destination: t.clone(),
        ack: AckMode::ClientIndividual,
        prefetch: 10,
        durable: Some(("client-a".into(), "s1".into())),
    };
    let (dtx, drx) = mpsc::unbounded_channel();
    f.broker.subscribe(1, durable.clone(), dtx).await.unwrap();
    drop(drx);
    f.broker.disconnect(1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    f.broker.subscribe(2, sub(t.clone(), AckMode::Auto, 10), tx).await.unwrap();
    f.broker.send(&t, msg("/topic/news", "hello", true)).await.unwrap();
    assert_eq!(next(&mut rx).await.msg.body, b"hello");
    // The durable subscriber was away; it gets the message when it comes back.
    let (dtx, mut drx) = mpsc::unbounded_channel();
    f.broker.subscribe(3, durable, dtx).await.unwrap();
    assert_eq!(next(&mut drx).await.msg.body, b"hello");
    assert_eq!(f.store.snapshot().unwrap().subs["sub:client-a:s1"], "news");
}

#[tokio::test]
async fn transactions_and_duplicate_suppression() {
    let f = fixture();
    let q = Destination::queue("tx");
    let mut m = msg("/queue/tx", "a", true);
    m.producer = Some(("p".into(), 1));
    f.broker
        .commit(vec![TxOp::Send(q.clone(), m.clone()), TxOp::Send(q.clone(), msg("/queue/tx", "b", true))])
        .await
        .unwrap();
    assert_eq!(f.store.snapshot().unwrap().stores["tx"].len(), 2);
    // A resend of producer p's sequence 1 is dropped, and so it is by a broker built from
    // the store, as a newly promoted master's is (after a failover).
    assert!(!f.broker.send(&q, m.clone()).await.unwrap());
    let promoted = Broker::new(f.writer.clone(), f.store.snapshot().unwrap());
    assert!(!promoted.send(&q, m).await.unwrap());
    assert_eq!(f.store.snapshot().unwrap().stores["tx"].len(), 2);
}

#[tokio::test]
async fn a_resend_while_the_original_waits_for_its_quorum_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (_ack_tx, acked) = watch::channel(0u64); // no slave ever acks
    let lease = Arc::new(crate::election::lease::Lease::new(Duration::from_secs(60)));
    lease.renew();
    let writer = Writer::start(store.clone(), SyncMode::parse("quorum_mem").unwrap(), acked, lease).unwrap();
    let broker = Arc::new(Broker::new(writer, store.snapshot().unwrap()));
    let q = Destination::queue("wait");
    let mut m = msg("/queue/wait", "a", true);
    m.producer = Some(("p".into(), 7));
    let b = broker.clone();
    let (q2, m2) = (q.clone(), m.clone());
    let original = tokio::spawn(async move { b.send(&q2, m2).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!original.is_finished(), "the original waits for a slave ack");
    let resend = tokio::time::timeout(Duration::from_secs(1), broker.send(&q, m)).await;
    assert!(!resend.expect("the resend is answered at once").unwrap(), "and dropped as a duplicate");
    original.abort();
}
