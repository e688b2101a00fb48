//! Deep queues (issue 12, item 6) on a real cluster (port block 99): a queue of many small
//! messages, 1 % of which a selective STOMP consumer wants. The console pages it (500 a
//! page, a link to the next, one message found by its id), a STOMP browser gets its first
//! page, and the selective consumer gets every match.
//!
//! The suite runs it with 20,000 messages. With a million, and the time each step took:
//! `cargo test --release --test deep -- --ignored --nocapture` (about 300 MB of messages:
//! the cluster's `memoryLimit` is raised to 2 GiB for it).

mod common;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use common::{HttpResponse, RawStomp, TestCluster, http};
use serde_json::Value;

const AUTH: Option<(&str, &str)> = Some(("admin", "admin"));

#[test]
fn a_deep_queue_is_paged_browsed_and_consumed_selectively() {
    deep_queue_on_a_real_cluster(20_000);
}

#[test]
#[ignore = "a measurement: cargo test --release --test deep -- --ignored --nocapture"]
fn measure_a_million_waiting_messages() {
    deep_queue_on_a_real_cluster(1_000_000);
}

/// GETs `path` from the console `runs` times; the last response and the slowest time.
fn timed_get(port: u16, path: &str, runs: usize) -> (HttpResponse, Duration) {
    let mut slowest = Duration::ZERO;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = http(port, "GET", path, AUTH, &[], b"");
        slowest = slowest.max(t.elapsed());
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        last = Some(r);
    }
    (last.unwrap(), slowest)
}

/// STOMP frames from a connection, read through a buffer (`RawStomp::frame` reads a byte
/// at a time: fine for a few frames, the bottleneck for ten thousand).
struct Frames(BufReader<std::net::TcpStream>);

impl Frames {
    fn of(s: &RawStomp) -> Frames {
        // `RawStomp::send` writes a frame, then its NUL: without this the NUL waits for the
        // ACK of the frame (Nagle), and the broker delays that ACK by 40 ms.
        s.0.set_nodelay(true).unwrap();
        Frames(BufReader::with_capacity(1 << 16, s.0.try_clone().unwrap()))
    }

    fn next(&mut self) -> String {
        let mut buf = Vec::new();
        assert!(self.0.read_until(0, &mut buf).unwrap() > 0, "a frame before EOF");
        buf.pop();
        String::from_utf8_lossy(&buf).trim_start_matches('\n').to_string()
    }
}

/// The message ids (sequences) a browse page lists, in order.
fn listed(page: &str) -> Vec<u64> {
    page.split("id=ID%3Amqsim-").skip(1).map(|s| s.split('"').next().unwrap().parse().unwrap()).collect()
}

fn deep_queue_on_a_real_cluster(n: u64) {
    let mut c = TestCluster::with_toml(99, |base| common::cluster_toml(base, "memoryLimit = 2147483648"));
    c.up();
    let st = c.wait_for("a serving master", Duration::from_secs(30), |st| {
        st["master"].is_string() && TestCluster::node(st, st["master"].as_str().unwrap())["serving"] == true
    });
    let (stomp, console) = (common::master_port(&st, "stomp"), common::master_port(&st, "console"));

    // Fill: one connection, pipelined non-persistent sends, a receipt on the last.
    let t = Instant::now();
    let mut producer = RawStomp::connect(stomp);
    {
        let mut w = BufWriter::with_capacity(1 << 20, producer.0.try_clone().unwrap());
        let body = "x".repeat(100);
        for i in 1..=n {
            let color = if i % 100 == 0 { "blue" } else { "red" };
            let receipt = if i == n { "receipt:filled\n" } else { "" };
            write!(w, "SEND\ndestination:/queue/deep\ncolor:{color}\n{receipt}content-length:100\n\n{body}\0").unwrap();
        }
        w.flush().unwrap();
    }
    producer.0.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    assert!(producer.frame().starts_with("RECEIPT"), "the last send is through");
    let filled = t.elapsed();
    println!("filled {n} messages (100-byte bodies, 1 % blue) in {filled:?}");

    // The console: the counters, the first page, a page deep down, one message deep down.
    let (queues, queues_took) = timed_get(console, "/admin/queues.jsp", 5);
    assert!(queues.body.contains(&format!("<td class=\"num\">{n}</td>")), "{n} pending shown");
    let (status, status_took) = timed_get(console, "/api/status.json", 5);
    let v: Value = serde_json::from_str(&status.body).unwrap();
    let deep = v["destinations"].as_array().unwrap().iter().find(|d| d["name"] == "deep").unwrap();
    assert_eq!(deep["pending"].as_u64(), Some(n));
    let (first, first_took) = timed_get(console, "/admin/browse.jsp?JMSDestination=deep", 5);
    let ids = listed(&first.body);
    assert_eq!(ids.len(), 500, "one page of 500");
    assert!(first.body.contains(&format!("<span id=\"pending\">{n}</span> pending")));
    let next = format!("/admin/browse.jsp?JMSDestination=deep&amp;after={}", ids[499]);
    assert!(first.body.contains(&format!("id=\"next\" href=\"{next}\"")), "a link to the next page");
    let second = http(console, "GET", &next.replace("&amp;", "&"), AUTH, &[], b"").body;
    assert_eq!(listed(&second)[0], ids[499] + 1, "the next page goes on where the first stopped");
    let middle = ids[0] + n / 2;
    let (page, middle_took) = timed_get(console, &format!("/admin/browse.jsp?JMSDestination=deep&after={middle}"), 5);
    assert_eq!(listed(&page.body)[0], middle + 1);
    let last = ids[0] + n - 1;
    let (tail, _) = timed_get(console, &format!("/admin/browse.jsp?JMSDestination=deep&after={}", last - 3), 1);
    assert_eq!(listed(&tail.body), [last - 2, last - 1, last]);
    assert!(!tail.body.contains("id=\"next\""), "no page after the last");
    let (one, message_took) =
        timed_get(console, &format!("/admin/message.jsp?JMSDestination=deep&id=ID:mqsim-{}", last - 1), 5);
    assert!(one.body.contains(&format!("Message ID:mqsim-{} in deep", last - 1)));
    println!(
        "console at {n} waiting (slowest of 5): queues.jsp {queues_took:?}, status.json {status_took:?}, \
         browse.jsp first page {first_took:?}, a page halfway {middle_took:?}, message.jsp {message_took:?}"
    );

    // A STOMP queue browser: its first page (400) and the end marker.
    let mut browser = RawStomp::connect(stomp);
    let mut frames = Frames::of(&browser);
    let t = Instant::now();
    browser.send("SUBSCRIBE\ndestination:/queue/deep\nid:b\nbrowser:true\n\n");
    let mut seen = 0;
    while !frames.next().contains("browser:end") {
        seen += 1;
    }
    let browse_took = t.elapsed();
    assert_eq!(seen, 400);

    // A consumer of the blue ones: every one of them, judging the red ones once.
    let mut consumer = RawStomp::connect(stomp);
    let mut frames = Frames::of(&consumer);
    let t = Instant::now();
    consumer.send("SUBSCRIBE\ndestination:/queue/deep\nid:c\nack:auto\nselector:color = 'blue'\n\n");
    let mut got = 0;
    while got < n / 100 {
        let f = frames.next();
        assert!(f.starts_with("MESSAGE") && f.contains("color:blue"), "{f}");
        got += 1;
    }
    let consume_took = t.elapsed();
    println!(
        "STOMP browser: first page of 400 in {browse_took:?}; a selective consumer (1 % match, prefetch 1000, \
         auto ack) got its {got} messages in {consume_took:?}: {:.0} deliveries/s, {:.0} waiting messages \
         judged/s",
        got as f64 / consume_took.as_secs_f64(),
        n as f64 / consume_took.as_secs_f64()
    );
    let left = timed_get(console, "/admin/queues.jsp", 1).0;
    assert!(left.body.contains(&format!("<td class=\"num\">{}</td>", n - n / 100)), "the red ones wait");
    c.down();
}
