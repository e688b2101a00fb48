//! Deep queues (issue 12, item 6): the work an operation does on a queue of 100,000 or
//! 1,000,000 waiting messages must not grow with the messages that wait. Counted, not
//! timed: `State::judged` (selector evaluations) and `State::visited` (messages a dispatch
//! pass looked at). The `#[ignore]`d measurements print rates at 1M messages
//! (`cargo test --release --lib deep_tests -- --ignored --nocapture`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::state::State;
use super::tests::{msg, sub};
use super::usage::Usage;
use super::*;

/// Waiting messages of a deep queue go at even sequences (2, 4, …, 2n), so a late send can
/// take an odd one below them; every `every`-th is blue, the others red. 100-byte bodies.
fn deep_queue(n: u64, every: u64) -> State {
    let usage = Usage::new(u64::MAX);
    let mut st = State::new(usage.clone(), 1000);
    for i in 1..=n {
        enqueue(&mut st, &usage, 2 * i, if i % every == 0 { "blue" } else { "red" });
    }
    st
}

fn enqueue(st: &mut State, usage: &Arc<Usage>, seq: u64, color: &str) {
    let mut m = msg("/queue/deep", &"x".repeat(100), true);
    m.headers.push(("color".into(), color.into()));
    m.seq = seq;
    st.enqueue(&Destination::queue("deep"), Arc::new(m), Arc::new(usage.force(1)), &HashMap::new());
}

fn selecting(selector: Option<&str>, prefetch: usize) -> Subscription {
    let mut s = sub(Destination::queue("deep"), AckMode::ClientIndividual, prefetch);
    s.selector = subscription_selector(selector, true).unwrap();
    s
}

fn drain(st: &mut State) {
    while st.continue_backlog() {}
}

fn received(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Vec<Delivery> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

#[test]
fn consumers_leaving_late_sends_and_new_selectors_make_no_one_rescan() {
    const N: u64 = 100_000;
    let mut st = deep_queue(N, 100);
    let usage = st.usage.clone();
    // B takes the first five blue messages; A, with room for them all, judges every
    // waiting message once and takes the rest.
    let (tx, mut b_rx) = mpsc::unbounded_channel();
    st.add_consumer(1, 1, selecting(Some("color = 'blue'"), 5), tx).unwrap();
    drain(&mut st);
    assert_eq!(received(&mut b_rx).len(), 5);
    let (tx, mut a_rx) = mpsc::unbounded_channel();
    st.add_consumer(2, 2, selecting(Some("color = 'blue'"), 10_000), tx).unwrap();
    drain(&mut st);
    assert_eq!(received(&mut a_rx).len(), (N / 100 - 5) as usize);
    assert!(st.judged <= N + 500, "each waiting message judged once by A: {}", st.judged);

    // B goes away: its five messages are put back at the head. A judges those five, not
    // the 99,000 it judged before.
    let before = st.judged;
    st.remove_consumer(1);
    drain(&mut st);
    let back = received(&mut a_rx);
    assert!(back.len() == 5 && back.iter().all(|d| d.redelivered));
    assert_eq!(st.judged - before, 5, "a consumer leaving made the others rescan the queue");

    // A send that arrives out of sequence order, far below what A has judged: one judgement.
    let before = st.judged;
    enqueue(&mut st, &usage, 3, "blue");
    enqueue(&mut st, &usage, 5, "red");
    drain(&mut st);
    assert_eq!(received(&mut a_rx).iter().map(|d| d.msg.seq).collect::<Vec<_>>(), [3]);
    assert_eq!(st.judged - before, 2, "a late send made the others rescan the queue");

    // A consumer with another selector joins: it judges each waiting message once; A none.
    let before = st.judged;
    let waiting = st.stats()[0].pending as u64;
    let (tx, mut c_rx) = mpsc::unbounded_channel();
    st.add_consumer(3, 3, selecting(Some("color = 'green'"), 10), tx).unwrap();
    drain(&mut st);
    assert!(received(&mut c_rx).is_empty());
    assert_eq!(st.judged - before, waiting, "a new selector made the others rescan");
    // ...and a new message is judged by each of them, once.
    enqueue(&mut st, &usage, 2 * N + 2, "red");
    drain(&mut st);
    assert_eq!(st.judged - before, waiting + 2);
}

#[test]
fn a_plain_consumer_beside_a_selective_one_does_not_walk_what_it_rejected() {
    const N: u64 = 100_000;
    let mut st = deep_queue(N, 100);
    // A (blue, no room left after the blue ones) has judged the whole queue.
    let (tx, mut a_rx) = mpsc::unbounded_channel();
    st.add_consumer(1, 1, selecting(Some("color = 'blue'"), 10_000), tx).unwrap();
    drain(&mut st);
    assert_eq!(received(&mut a_rx).len(), (N / 100) as usize);
    // P (no selector, prefetch 1) takes the head one at a time: each ack lets it take the
    // next message, and the pass must stop there, not walk on through the red messages A
    // judged already (1,024 of them a pass).
    let (tx, mut p_rx) = mpsc::unbounded_channel();
    st.add_consumer(2, 2, selecting(None, 1), tx).unwrap();
    drain(&mut st);
    let visited = st.visited;
    for _ in 0..100 {
        let d = received(&mut p_rx);
        assert_eq!(d.len(), 1);
        st.ack(2, d[0].msg.seq, false).unwrap();
        drain(&mut st);
    }
    assert!(st.visited - visited <= 100, "100 acks looked at {} waiting messages", st.visited - visited);
}

#[test]
fn a_selective_consumer_drains_a_deep_queue_judging_each_message_once() {
    const N: u64 = 100_000;
    let mut st = deep_queue(N, 100);
    let (judged, visited) = drain_selective(&mut st, N);
    assert!(judged <= N && visited <= N, "judged {judged}, looked at {visited} for {N} waiting messages");
}

/// A consumer of the blue messages (prefetch 100) takes them all, acking each delivery;
/// returns the judgements and visits that took.
fn drain_selective(st: &mut State, n: u64) -> (u64, u64) {
    let (judged, visited) = (st.judged, st.visited);
    let (tx, mut rx) = mpsc::unbounded_channel();
    st.add_consumer(1, 1, selecting(Some("color = 'blue'"), 100), tx).unwrap();
    let mut got = 0;
    loop {
        drain(st);
        let d = received(&mut rx);
        if d.is_empty() {
            break;
        }
        got += d.len() as u64;
        for d in d {
            st.ack(1, d.msg.seq, false).unwrap();
        }
    }
    assert_eq!(got, n / 100);
    (st.judged - judged, st.visited - visited)
}

#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn measure_a_selective_consumer_on_a_million_messages() {
    const N: u64 = 1_000_000;
    let t = Instant::now();
    let mut st = deep_queue(N, 100);
    println!("built {N} waiting messages in {:?}", t.elapsed());
    let t = Instant::now();
    let (judged, visited) = drain_selective(&mut st, N);
    let took = t.elapsed();
    println!(
        "a selective consumer (1 % match, prefetch 100, acking each) took {} messages in {took:?}: {:.0} deliveries/s, \
         {judged} judgements, {visited} messages looked at",
        N / 100,
        (N / 100) as f64 / took.as_secs_f64()
    );
}

/// Random sends (some late, below what consumers judged), consumers coming and going with
/// and without selectors, acks: after each, nothing waits that a consumer with credit
/// matches, and every message is waiting, in flight on one consumer, or acked.
#[test]
fn dispatch_with_marks_and_put_backs_misses_nothing() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    const SELECTORS: [Option<&str>; 4] = [None, Some("color = 'red'"), Some("color = 'blue'"), Some("color <> 'red'")];
    for seed in 0..30 {
        let mut rng = StdRng::seed_from_u64(seed);
        let usage = Usage::new(u64::MAX);
        let mut st = State::new(usage.clone(), 1000);
        let (mut sent, mut acked, mut next_seq) = (std::collections::BTreeSet::new(), 0, 1_000);
        let mut receivers: HashMap<u64, mpsc::UnboundedReceiver<Delivery>> = HashMap::new();
        for step in 0..400 {
            match rng.random_range(0..10) {
                0..4 => {
                    // Mostly in order; now and then late, below what was sent already.
                    let seq = if rng.random_bool(0.2) { rng.random_range(1..1_000 + 10 * step) } else { next_seq };
                    next_seq = next_seq.max(seq) + 10;
                    if sent.insert(seq) {
                        let color = ["red", "blue", "green"][rng.random_range(0..3)];
                        enqueue(&mut st, &usage, seq, color);
                    }
                }
                4 => {
                    let id = 100 + step;
                    let (tx, rx) = mpsc::unbounded_channel();
                    let s = selecting(SELECTORS[rng.random_range(0..4)], rng.random_range(1..4));
                    st.add_consumer(id, id, s, tx).unwrap();
                    receivers.insert(id, rx);
                }
                5 if !receivers.is_empty() => {
                    let id = *receivers.keys().nth(rng.random_range(0..receivers.len())).unwrap();
                    receivers.remove(&id);
                    st.remove_consumer(id);
                }
                _ => {
                    let busy: Vec<(u64, u64)> =
                        st.consumers.iter().flat_map(|(id, c)| c.inflight.iter().map(|(s, _)| (*id, *s))).collect();
                    if !busy.is_empty() {
                        let (id, seq) = busy[rng.random_range(0..busy.len())];
                        st.ack(id, seq, false).unwrap();
                        acked += 1;
                    }
                }
            }
            drain(&mut st);
            for rx in receivers.values_mut() {
                received(rx);
            }
            let waiting: Vec<u64> =
                st.stores.get("deep").map(|q| q.pending.keys().copied().collect()).unwrap_or_default();
            let inflight: usize = st.consumers.values().map(|c| c.inflight.len()).sum();
            assert_eq!(
                waiting.len() + inflight + acked,
                sent.len(),
                "seed {seed}, step {step}: a message lost or doubled"
            );
            for (id, c) in st.consumers.iter().filter(|(_, c)| c.has_credit()) {
                for seq in &waiting {
                    let m = &st.stores["deep"].pending[seq].msg;
                    let matches = c.selector.as_ref().is_none_or(|s| s.matches(&|k| state::message_value(m, k)));
                    assert!(
                        !matches,
                        "seed {seed}, step {step}: {seq} waits, and consumer {id} with credit matches it"
                    );
                }
            }
        }
    }
}

#[test]
fn browsing_a_page_finding_a_message_and_the_counters_do_not_walk_the_queue() {
    const N: u64 = 100_000;
    let mut st = deep_queue(N, 100);
    let page = |st: &mut State, after: u64, selector: Option<&Selector>| {
        let before = st.browsed;
        let got: Vec<u64> =
            st.pending("deep", after, 500, selector, admin::BROWSE_STEPS).iter().map(|(m, _)| m.seq).collect();
        (got, st.browsed - before)
    };
    // The first page, a page deep in the queue, the last one: 500 messages looked at each.
    let (head, looked) = page(&mut st, 0, None);
    assert_eq!((head.len(), head[0], looked), (500, 2, 500));
    let (deep, looked) = page(&mut st, 2 * 90_000, None);
    assert_eq!((deep[0], deep[499], looked), (2 * 90_001, 2 * 90_500, 500));
    let (tail, looked) = page(&mut st, 2 * (N - 10), None);
    assert_eq!((tail.len(), looked), (10, 10));
    // One message, by its sequence: one look-up.
    let before = st.browsed;
    assert_eq!(st.pending_message("deep", 2 * 77_777).unwrap().0.seq, 2 * 77_777);
    assert!(st.pending_message("deep", 2 * 77_777 + 1).is_none());
    assert_eq!(st.browsed - before, 2);
    // A selector nothing matches stops at the browse's bound, not at the queue's end.
    let green = Selector::parse("color = 'green'", true).unwrap();
    let (none, looked) = page(&mut st, 0, Some(&green));
    assert!(none.is_empty());
    assert_eq!(looked, admin::BROWSE_LOOK as u64);
    // So does a costly one, at its step budget.
    let costly = vec!["color LIKE '%x%y%'"; 100].join(" OR ");
    let costly = Selector::parse(&costly, true).unwrap();
    let m = st.pending("deep", 0, 1, None, 1)[0].0.clone();
    let per_message = costly.evaluate(&|k| state::message_value(&m, k), 100_000).1;
    let (none, looked) = page(&mut st, 0, Some(&costly));
    assert!(none.is_empty());
    assert_eq!(looked, admin::BROWSE_STEPS.div_ceil(per_message) as u64, "{per_message} steps a message");

    // The counters: one entry per destination, whatever waits. 10,000 calls on a queue of
    // 100,000 would be a billion steps if they counted messages; they take milliseconds.
    let started = Instant::now();
    for _ in 0..10_000 {
        let stats = st.stats();
        assert_eq!(stats[0].pending, N as usize);
        assert_eq!(st.store_stats("deep").unwrap().enqueued, N);
    }
    let took = started.elapsed();
    assert!(took.as_secs() < 5, "10,000 × stats() on {N} waiting messages took {took:?}");
}

#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn measure_operations_on_a_million_messages() {
    const N: u64 = 1_000_000;
    let mut st = deep_queue(N, 100);
    let timed = |st: &mut State, what: &str, f: &mut dyn FnMut(&mut State)| {
        let (judged, visited, t) = (st.judged, st.visited, Instant::now());
        f(st);
        println!("{what}: {:?} ({} judgements, {} visits)", t.elapsed(), st.judged - judged, st.visited - visited);
    };
    let (tx, _b) = mpsc::unbounded_channel();
    let (a_tx, _a) = mpsc::unbounded_channel();
    timed(&mut st, "B (blue, prefetch 5) joins", &mut |st| {
        st.add_consumer(1, 1, selecting(Some("color = 'blue'"), 5), tx.clone()).unwrap();
        drain(st);
    });
    timed(&mut st, "A (blue, prefetch 100,000) joins and judges every message", &mut |st| {
        st.add_consumer(2, 2, selecting(Some("color = 'blue'"), 100_000), a_tx.clone()).unwrap();
        drain(st);
    });
    timed(&mut st, "B leaves, its 5 go back", &mut |st| {
        st.remove_consumer(1);
        drain(st);
    });
    let (p_tx, mut p_rx) = mpsc::unbounded_channel();
    st.add_consumer(3, 3, selecting(None, 1), p_tx).unwrap();
    drain(&mut st);
    timed(&mut st, "a plain consumer (prefetch 1) beside A acks 1,000 times", &mut |st| {
        for _ in 0..1_000 {
            let d = received(&mut p_rx);
            st.ack(3, d[0].msg.seq, false).unwrap();
            drain(st);
        }
    });
    let usage = st.usage.clone();
    timed(&mut st, "a late send below A's mark", &mut |st| {
        enqueue(st, &usage, 3, "red");
        drain(st);
    });
    let blue = Selector::parse("color = 'blue'", true).unwrap();
    for (what, after, sel) in [("first", 0, None), ("halfway", N, None), ("first, selector", 0, Some(&blue))] {
        timed(&mut st, &format!("a browse page of 500 ({what})"), &mut |st| {
            let before = st.browsed;
            let n = st.pending("deep", after, 500, sel, admin::BROWSE_STEPS).len();
            print!("[{n} shown, {} looked at] ", st.browsed - before);
        });
    }
    timed(&mut st, "one message by its sequence, 1,000 times", &mut |st| {
        for i in 0..1_000 {
            assert!(st.pending_message("deep", 2 * (N - 2 * i - 1)).is_some());
        }
    });
    timed(&mut st, "stats(), 1,000 times", &mut |st| {
        for _ in 0..1_000 {
            assert_eq!(st.stats().len(), 1);
        }
    });
}
