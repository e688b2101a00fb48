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
    pub(super) writer: Writer,
}

pub(super) fn fixture() -> Fixture {
    fixture_with(Limits::default())
}

/// [`fixture`] with the given limits.
pub(super) fn fixture_with(limits: Limits) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (_tx, acked) = watch::channel(u64::MAX);
    let lease = Arc::new(crate::election::lease::Lease::new(Duration::from_secs(60)));
    lease.renew();
    let writer = Writer::start(store.clone(), SyncMode::parse("local_mem").unwrap(), acked, lease).unwrap();
    let broker = Broker::with_limits(writer.clone(), store.snapshot().unwrap(), limits);
    Fixture { _dir: dir, store, broker, writer }
}

pub(super) fn sub(dest: Destination, ack: AckMode, prefetch: usize) -> Subscription {
    Subscription { destination: dest, ack, prefetch, durable: None, selector: None }
}

pub(super) async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
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
        selector: None,
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

fn colored(dest: &str, body: &str, color: &str) -> StoredMessage {
    let mut m = msg(dest, body, true);
    m.headers.push(("color".into(), color.into()));
    m
}

fn selecting(dest: Destination, prefetch: usize, selector: &str) -> Subscription {
    let selector = Some(Arc::new(Selector::parse(selector, true).unwrap()));
    Subscription { selector, ..sub(dest, AckMode::ClientIndividual, prefetch) }
}

#[tokio::test]
async fn selectors_pick_their_messages_and_leave_the_rest_waiting() {
    let f = fixture();
    let q = Destination::queue("paint");
    for (i, color) in ["red", "blue", "red", "green"].into_iter().enumerate() {
        f.broker.send(&q, colored("/queue/paint", &format!("m{i}"), color)).await.unwrap();
    }
    // A consumer for red gets the red ones, in order, past the blue one at the head.
    let (tx, mut red) = mpsc::unbounded_channel();
    let r = f.broker.subscribe(1, selecting(q.clone(), 10, "color = 'red'"), tx).await.unwrap();
    let got = [next(&mut red).await, next(&mut red).await];
    assert_eq!(got.iter().map(|d| d.msg.body.clone()).collect::<Vec<_>>(), [b"m0".to_vec(), b"m2".to_vec()]);
    assert!(red.try_recv().is_err(), "nothing else is red");
    // The others still wait, in order, for a consumer that takes them.
    let waiting: Vec<Vec<u8>> = f.broker.browse("paint", 10, None).into_iter().map(|(m, _)| m.body.clone()).collect();
    assert_eq!(waiting, [b"m1".to_vec(), b"m3".to_vec()]);
    let (tx, mut rest) = mpsc::unbounded_channel();
    f.broker.subscribe(2, sub(q.clone(), AckMode::ClientIndividual, 10), tx).await.unwrap();
    assert_eq!(next(&mut rest).await.msg.body, b"m1");
    assert_eq!(next(&mut rest).await.msg.body, b"m3");
    // A red message sent now goes to the red consumer, not to the one without a selector...
    for d in &got {
        f.broker.ack(r, d.msg.seq, false).await.unwrap();
    }
    f.broker.send(&q, colored("/queue/paint", "m4", "red")).await.unwrap();
    f.broker.send(&q, colored("/queue/paint", "m5", "red")).await.unwrap();
    // ...round robin among those that match and have credit: one each.
    let to_red = next(&mut red).await.msg.body.clone();
    let mut both = [to_red.clone(), next(&mut rest).await.msg.body.clone()];
    both.sort();
    assert_eq!(both, [b"m4".to_vec(), b"m5".to_vec()]);
    // A red consumer going away puts its unacked message back, to a consumer that takes it.
    f.broker.unsubscribe(r);
    let again = next(&mut rest).await;
    assert_eq!((again.msg.body.clone(), again.redelivered), (to_red, true));
}

#[tokio::test]
async fn selectors_on_topics_and_browsers_and_none_on_durable_subscriptions() {
    let f = fixture();
    let t = Destination::topic("alerts");
    let (tx, mut high) = mpsc::unbounded_channel();
    f.broker.subscribe(1, selecting(t.clone(), 10, "level > 3"), tx).await.unwrap();
    let (tx, mut all) = mpsc::unbounded_channel();
    f.broker.subscribe(2, sub(t.clone(), AckMode::Auto, 10), tx).await.unwrap();
    for level in [1, 5] {
        let mut m = msg("/topic/alerts", &format!("level {level}"), false);
        m.headers.push(("level".into(), level.to_string()));
        f.broker.send(&t, m).await.unwrap();
    }
    assert_eq!(next(&mut high).await.msg.body, b"level 5");
    assert!(high.try_recv().is_err());
    assert_eq!(next(&mut all).await.msg.body, b"level 1");
    assert_eq!(next(&mut all).await.msg.body, b"level 5");

    let q = Destination::queue("b");
    for color in ["red", "blue"] {
        f.broker.send(&q, colored("/queue/b", color, color)).await.unwrap();
    }
    let blue = Selector::parse("color <> 'red'", true).unwrap();
    let seen: Vec<Vec<u8>> = f.broker.browse("b", 10, Some(&blue)).into_iter().map(|(m, _)| m.body.clone()).collect();
    assert_eq!(seen, [b"blue".to_vec()]);

    let mut durable = selecting(t, 10, "level > 3");
    durable.durable = Some(("c".into(), "s".into()));
    let (tx, _rx) = mpsc::unbounded_channel();
    let before = f.store.position().unwrap();
    let err = f.broker.subscribe(3, durable, tx).await.unwrap_err().to_string();
    assert!(err.contains("selector on a durable subscription"), "{err}");
    assert_eq!(f.store.position().unwrap(), before, "nothing of the refused subscription is stored");
    assert!(f.store.snapshot().unwrap().subs.is_empty());
}

#[test]
fn selectors_read_jms_header_fields_and_typed_properties() {
    let mut m = msg("/queue/q", "x", true);
    m.headers = vec![
        ("priority".into(), "7".into()),
        ("correlation-id".into(), "c-1".into()),
        ("n".into(), "42".into()),
        ("ratio".into(), "0.5".into()),
        ("flag".into(), "true".into()),
        ("word".into(), "42".into()),
        (crate::message::header::PROPERTY_TYPES.into(), "n:i,ratio:d,flag:z".into()),
    ];
    use selector::Value;
    assert_eq!(state::message_value(&m, "JMSPriority"), Some(Value::Long(7)));
    assert_eq!(state::message_value(&m, "JMSDeliveryMode"), Some(Value::Str("PERSISTENT".into())));
    assert_eq!(state::message_value(&m, "JMSCorrelationID"), Some(Value::Str("c-1".into())));
    assert_eq!(state::message_value(&m, "n"), Some(Value::Long(42)));
    assert_eq!(state::message_value(&m, "ratio"), Some(Value::Double(0.5)));
    assert_eq!(state::message_value(&m, "flag"), Some(Value::Bool(true)));
    assert_eq!(state::message_value(&m, "word"), Some(Value::Str("42".into())), "untyped: a string");
    assert_eq!(state::message_value(&m, "missing"), None);
    let jms = Selector::parse("n = 42 AND flag AND JMSPriority > 4 AND word = '42'", false).unwrap();
    assert!(jms.matches(&|k| state::message_value(&m, k)));
}
