//! Tests of the broker's resource bounds (issue 11): dispatch work per pass, the pending
//! message limit, transaction limits, memory flow control, the store limit, and the queue /
//! durable subscription namespaces.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::dispatch::PASS_MESSAGES;
use super::state::State;
use super::tests::{fixture_with, msg, next, sub};
use super::usage::Usage;
use super::*;

fn limits(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

fn colored(body: &str, color: &str) -> StoredMessage {
    let mut m = msg("/queue/q", body, false);
    m.headers.push(("color".into(), color.into()));
    m.seq = 0;
    m
}

fn body(d: &Delivery) -> String {
    String::from_utf8_lossy(&d.msg.body).into_owned()
}

#[test]
fn a_selective_pass_is_bounded_and_judges_each_message_once() {
    let usage = Usage::new(u64::MAX);
    let mut st = State::new(usage.clone(), 1000);
    let q = Destination::queue("q");
    let enqueue = |st: &mut State, seq: u64, color: &str| {
        let mut m = colored(&format!("m{seq}"), color);
        m.seq = seq;
        st.enqueue(&q, Arc::new(m), Arc::new(usage.force(1)), &HashMap::new());
    };
    for seq in 1..=5_000 {
        enqueue(&mut st, seq, "red");
    }
    enqueue(&mut st, 5_001, "blue");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut s = sub(q.clone(), AckMode::Client, 10);
    s.selector = subscription_selector(Some("color = 'blue'"), true).unwrap();
    st.add_consumer(7, 1, s, tx).unwrap();
    // The first pass stops after PASS_MESSAGES and leaves the store in the backlog.
    assert_eq!(st.judged, PASS_MESSAGES as u64);
    assert!(rx.try_recv().is_err());
    assert!(st.backlog.contains("q"));
    let mut passes = 1;
    loop {
        passes += 1;
        if !st.continue_backlog() {
            break;
        }
    }
    assert_eq!(passes, 5_001_usize.div_ceil(PASS_MESSAGES));
    assert_eq!(rx.try_recv().unwrap().msg.seq, 5_001, "the one match, once the passes got there");
    assert_eq!(st.judged, 5_001, "every message judged once");
    // A new message costs one judgement, not a rescan of the 5,000 waiting.
    enqueue(&mut st, 5_002, "red");
    assert_eq!(st.judged, 5_002);
    // A message put back below the consumer's mark (sent earlier, enqueued late) is judged.
    enqueue(&mut st, 4_000_000, "red");
    let mut late = colored("late", "blue");
    late.seq = 3;
    st.enqueue(&q, Arc::new(late), Arc::new(usage.force(1)), &HashMap::new());
    while st.continue_backlog() {}
    assert_eq!(rx.try_recv().unwrap().msg.seq, 3);
}

#[test]
fn a_plain_pass_is_bounded_too() {
    let usage = Usage::new(u64::MAX);
    let mut st = State::new(usage.clone(), 1000);
    let q = Destination::queue("q");
    for seq in 1..=3_000 {
        let mut m = colored("m", "red");
        m.seq = seq;
        st.enqueue(&q, Arc::new(m), Arc::new(usage.force(1)), &HashMap::new());
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    st.add_consumer(7, 1, sub(q.clone(), AckMode::Client, 1_000_000), tx).unwrap();
    let count = |rx: &mut mpsc::UnboundedReceiver<Delivery>| std::iter::from_fn(|| rx.try_recv().ok()).count();
    assert_eq!(count(&mut rx), PASS_MESSAGES);
    while st.continue_backlog() {}
    assert_eq!(count(&mut rx), 3_000 - PASS_MESSAGES);
}

#[tokio::test]
async fn the_broker_continues_a_bounded_pass_by_itself() {
    let f = fixture_with(Limits::default());
    let q = Destination::queue("q");
    for i in 0..3_000 {
        f.broker.send(&q, colored(&format!("r{i}"), "red")).await.unwrap();
    }
    f.broker.send(&q, colored("b", "blue")).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut s = sub(q.clone(), AckMode::Client, 10);
    s.selector = subscription_selector(Some("color = 'blue'"), true).unwrap();
    f.broker.subscribe(1, s, tx).await.unwrap();
    assert_eq!(body(&next(&mut rx).await), "b");
}

#[tokio::test]
async fn a_slow_topic_subscriber_keeps_only_the_newest_beyond_its_prefetch() {
    let f = fixture_with(limits(|l| l.pending_messages = 3));
    let t = Destination::topic("t");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = f.broker.subscribe(1, sub(t.clone(), AckMode::Auto, 2), tx).await.unwrap();
    for i in 0..10 {
        f.broker.send(&t, msg("/topic/t", &format!("m{i}"), false)).await.unwrap();
    }
    let (a, b) = (next(&mut rx).await, next(&mut rx).await);
    assert_eq!((body(&a), body(&b)), ("m0".into(), "m1".into()));
    assert!(rx.try_recv().is_err(), "its prefetch is full");
    let st = f.broker.stats().into_iter().find(|s| s.name == "t").unwrap();
    assert_eq!((st.inflight, st.pending), (2, 3), "m7..m9 wait; m2..m6 were discarded");
    // Once it catches up (the adapter acks auto deliveries as it writes them) it gets the newest.
    f.broker.ack_many(c, &[a.msg.seq, b.msg.seq]).await.unwrap();
    let got: Vec<String> = [next(&mut rx).await, next(&mut rx).await].iter().map(body).collect();
    assert_eq!(got, ["m7", "m8"]);
    f.broker.ack_many(c, &[]).await.unwrap();
    // What it held is given back when it goes.
    f.broker.disconnect(1);
    assert_eq!(f.broker.memory_used(), 0);
}

#[tokio::test]
async fn a_slow_topic_subscribers_backlog_gives_way_to_producers_when_memory_is_full() {
    let f = fixture_with(limits(|l| {
        l.memory = 1 << 20;
        l.send_timeout = Duration::from_millis(200);
    }));
    let t = Destination::topic("t");
    let (tx, _rx) = mpsc::unbounded_channel();
    f.broker.subscribe(1, sub(t.clone(), AckMode::Auto, 1), tx).await.unwrap();
    let big = "x".repeat(300 << 10);
    for i in 0..20 {
        let start = Instant::now();
        f.broker.send(&t, msg("/topic/t", &format!("{i}{big}"), false)).await.unwrap();
        assert!(start.elapsed() < Duration::from_millis(150), "send {i} did not wait for memory");
        assert!(f.broker.memory_used() <= 1 << 20);
    }
}

#[tokio::test]
async fn a_transaction_is_bounded_and_rolled_back_past_its_limit() {
    let f = fixture_with(limits(|l| l.transaction = 3));
    let q = Destination::queue("q");
    let mut tx = Transaction::default();
    for i in 0..3 {
        f.broker.transact(&mut tx, [TxOp::Send(q.clone(), msg("/queue/q", &format!("m{i}"), true))]).await.unwrap();
    }
    assert!(f.broker.memory_used() > 0, "its sends count against memory");
    let e = f.broker.transact(&mut tx, [TxOp::Send(q.clone(), msg("/queue/q", "m3", true))]).await.unwrap_err();
    assert!(e.to_string().contains("transactionLimit of 3"), "{e}");
    assert_eq!(f.broker.memory_used(), 0, "rolled back: its memory is given back");
    assert!(tx.is_empty());
    let e = f.broker.commit(tx).await.unwrap_err();
    assert!(e.to_string().contains("rolled back"), "{e}");
    assert!(f.broker.browse("q", 10, None).is_empty(), "nothing of it was enqueued");
    // Within the limit a transaction commits, its memory passed on to the messages.
    let mut tx = Transaction::default();
    for i in 0..3 {
        f.broker.transact(&mut tx, [TxOp::Send(q.clone(), msg("/queue/q", &format!("m{i}"), true))]).await.unwrap();
    }
    let held = f.broker.memory_used();
    f.broker.commit(tx).await.unwrap();
    assert_eq!(f.broker.browse("q", 10, None).len(), 3);
    assert_eq!(f.broker.memory_used(), held);
}

#[tokio::test]
async fn a_full_memory_makes_producers_wait_then_fail() {
    let f = Arc::new(fixture_with(limits(|l| {
        l.memory = 1 << 20;
        l.send_timeout = Duration::from_millis(300);
    })));
    let q = Destination::queue("q");
    let big = |i: usize| msg("/queue/q", &format!("{i}{}", "x".repeat(300 << 10)), true);
    for i in 0..3 {
        f.broker.send(&q, big(i)).await.unwrap();
    }
    // The fourth waits for space; a consumer acking one frees it.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = f.broker.subscribe(1, sub(q.clone(), AckMode::ClientIndividual, 1), tx).await.unwrap();
    let first = next(&mut rx).await;
    let sender = {
        let (f, q) = (f.clone(), q.clone());
        tokio::spawn(async move { f.broker.send(&q, big(3)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!sender.is_finished(), "the producer waits for memory");
    f.broker.ack(c, first.msg.seq, false).await.unwrap();
    assert!(sender.await.unwrap().unwrap());
    // Nobody frees anything now: after the timeout the producer gets ActiveMQ's error.
    f.broker.unsubscribe(c);
    let start = Instant::now();
    let e = f.broker.send(&q, big(4)).await.unwrap_err().to_string();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(e.starts_with("Usage Manager Memory Limit reached. Stopping producer"), "{e}");
    assert!(e.contains("queue://q"), "{e}");
    // Nothing acknowledged was dropped: all three sent since are still there.
    assert_eq!(f.broker.browse("q", 10, None).len(), 3);
    assert!(f.broker.memory_used() <= 1 << 20);
}

#[tokio::test]
async fn a_full_store_refuses_persistent_sends_and_still_takes_acks() {
    let f = fixture_with(limits(|l| l.store = 64 << 10));
    let q = Destination::queue("q");
    let mut sent = 0;
    let error = loop {
        match f.broker.send(&q, msg("/queue/q", &"s".repeat(10 << 10), true)).await {
            Ok(_) => sent += 1,
            Err(e) => break e.to_string(),
        }
        assert!(sent < 10, "the store limit never refused a send");
    };
    assert!(error.starts_with(&format!("Persistent store is Full, 100% of {}.", 64 << 10)), "{error}");
    assert!(f.store.position().unwrap() as u64 <= 64 << 10, "the journal stayed under the limit");
    // Non-persistent sends need no store; consumers drain and ack what was stored.
    f.broker.send(&q, msg("/queue/q", "np", false)).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = f.broker.subscribe(1, sub(q.clone(), AckMode::ClientIndividual, 100), tx).await.unwrap();
    for _ in 0..sent + 1 {
        let d = next(&mut rx).await;
        f.broker.ack(c, d.msg.seq, false).await.unwrap();
    }
    assert!(f.broker.browse("q", 10, None).is_empty());
}

#[test]
fn queue_keys_never_meet_durable_keys() {
    assert_eq!(queue_key("orders"), "orders");
    assert_eq!(queue_key("ActiveMQ.DLQ"), "ActiveMQ.DLQ");
    assert_eq!(queue_key("queue:orders"), "queue:orders", "no sub: after the prefix: as it was");
    assert_eq!(queue_key("sub:alice:mine"), "queue:sub:alice:mine");
    assert_eq!(queue_key("queue:sub:alice:mine"), "queue:queue:sub:alice:mine");
    let names = ["sub:a:b", "queue:sub:a:b", "queue:queue:sub:a:b", "a", "queue:a", "sub", "sub:"];
    let keys: std::collections::BTreeSet<String> = names.iter().map(|n| queue_key(n).into_owned()).collect();
    assert_eq!(keys.len(), names.len(), "one key per name");
    assert!(keys.iter().all(|k| !k.starts_with("sub:")), "no queue key looks like a durable one");
}

/// Row 12 of issue 11: `/queue/sub:alice:mine` is not alice's durable subscription.
#[tokio::test]
async fn a_queue_named_like_a_durable_subscription_is_another_store() {
    let f = fixture_with(Limits::default());
    let t = Destination::topic("news");
    let mut durable = sub(t.clone(), AckMode::Client, 10);
    durable.durable = Some(("alice".into(), "mine".into()));
    let (atx, mut arx) = mpsc::unbounded_channel();
    let alice = f.broker.subscribe(1, durable.clone(), atx).await.unwrap();
    f.broker.disconnect(1);
    f.broker.send(&t, msg("/topic/news", "for alice", true)).await.unwrap();
    // The thief subscribes to the queue of the same name, and browses it: nothing.
    let spoof = Destination::queue("sub:alice:mine");
    let (ttx, mut trx) = mpsc::unbounded_channel();
    f.broker.subscribe(2, sub(spoof.clone(), AckMode::Auto, 10), ttx).await.unwrap();
    assert!(f.broker.browse("sub:alice:mine", 10, None).is_empty());
    // A message sent to that queue goes to the queue, not into alice's subscription.
    f.broker.send(&spoof, msg("/queue/sub:alice:mine", "queued", true)).await.unwrap();
    assert_eq!(body(&next(&mut trx).await), "queued");
    assert!(trx.try_recv().is_err(), "only the queue's own message");
    // Alice gets hers, and only hers, also from a broker promoted from the store.
    let promoted = Broker::new(f.writer.clone(), f.store.snapshot().unwrap());
    for broker in [&f.broker, &promoted] {
        let (atx2, mut arx2) = mpsc::unbounded_channel();
        broker.subscribe(3, durable.clone(), atx2).await.unwrap();
        assert_eq!(body(&next(&mut arx2).await), "for alice");
        assert!(arx2.try_recv().is_err());
        broker.disconnect(3);
    }
    let _ = (alice, arx.try_recv());
}
