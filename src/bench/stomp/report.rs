//! The `stomp` section of docs/benchmarks.md, from the four runs of `scripts/bench-stomp.sh`.
//!
//! Two peers are measured with mqsim in the same rounds, and each answers a different question:
//! **ActiveMQ 5.17.2** is the broker mqsim imitates (one node: it replicates nothing and fsyncs
//! once per synchronous send), so the targets are ratios to it; **RabbitMQ 3.10 with
//! quorum queues** on 3 nodes is the one available broker that keeps the same promise as
//! `quorum_disk` (a send is confirmed once a majority of 3 members hold it, each having
//! fsynced), so `quorum_disk / RabbitMQ` says what the replication costs against another
//! implementation of it on the same disk. The text says which broker replicates and fsyncs
//! what, next to the figures, so that no ratio is read without its contract.

use serde::Deserialize;

use super::{Produce, Rep, Run};
use crate::bench::disk::{Disk, IoPer, WRITERS};
use crate::bench::{median, mmm};

/// The four runs of `scripts/bench-stomp.sh`.
pub struct Runs {
    pub activemq: Run,
    /// RabbitMQ 3.10, 3 nodes, quorum queues (`scripts/lib/rabbitmq.sh`).
    pub rabbitmq: Run,
    pub quorum_mem: Run,
    pub quorum_disk: Run,
    /// The disk, measured in the same run (`mqsim bench disk`).
    pub disk: Option<Disk>,
    /// What RabbitMQ's queues still held after the run, every message having been consumed.
    pub rabbitmq_left: Option<Vec<QueueCount>>,
}

/// One line of `rabbitmqctl list_queues name messages --formatter json`.
#[derive(Debug, Clone, Deserialize)]
pub struct QueueCount {
    pub name: String,
    pub messages: u64,
}

/// One row of the tables: the name shown, the run, and whether the targets (which
/// are mqsim's) apply to it.
type Row<'a> = (&'a str, &'a Run, bool);

fn yes(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

/// One figure of the disks' work per send in (a), rep by rep (reps without it left out).
fn a_io(run: &Run, f: fn(&IoPer) -> f64) -> Vec<f64> {
    run.reps.iter().filter_map(|x| x.a.io.as_ref().map(f)).collect()
}

/// Each rep's value of one figure.
fn get(run: &Run, f: Figure) -> Vec<f64> {
    run.reps.iter().map(f).collect()
}

/// The ratio of two runs' medians of one figure.
fn ratio(run: &Run, to: &Run, f: Figure) -> f64 {
    median(&get(run, f)) / median(&get(to, f))
}

/// What the disks did per send in (a), medians over the reps.
fn io_table(rows: &[Row]) -> String {
    let mut s = "### The disks' work per send in (a)\n\nRead from `/proc/diskstats` (every disk of the machine) \
                 around each (a); the brokers not being measured are idle meanwhile.\n\n\
                 | broker | cache flushes per send | KiB written per send |\n|---|---|---|\n"
        .to_string();
    for (name, run, _) in rows {
        let (flushes, kib) = (a_io(run, |i| i.flushes), a_io(run, |i| i.kib_written));
        if flushes.is_empty() {
            s += &format!("| {name} | not measured | not measured |\n");
            continue;
        }
        s += &format!("| {name} | {} | {} |\n", mmm(&flushes, 2), mmm(&kib, 1));
    }
    s + "\n"
}

/// One figure of a rep.
type Figure = fn(&Rep) -> f64;

const A: Figure = |x| x.a.msgs_per_s;
const B: Figure = |x| x.b.msgs_per_s;
const C: Figure = |x| x.c.msgs_per_s;
const C_AUTO: Figure = |x| x.c_auto.msgs_per_s;

/// The `stomp` section of docs/benchmarks.md.
pub fn report(r: &Runs, host: &str, build: &str) -> String {
    let (amq, rmq) = (&r.activemq, &r.rabbitmq);
    let rows: [Row; 4] = [
        ("mqsim `quorum_mem`", &r.quorum_mem, true),
        ("mqsim `quorum_disk`", &r.quorum_disk, true),
        ("RabbitMQ 3.10 quorum queue", rmq, false),
        ("ActiveMQ 5.17.2", amq, false),
    ];

    let mut s = format!(
        "## STOMP: persistent throughput and RSS, side by side with ActiveMQ 5.17.2 and RabbitMQ 3.10 quorum queues\n\n\
         Measured {} on {host} with `scripts/bench-stomp.sh` (mqsim {build}). One run: the four brokers are \
         up at once and measured in turn, one rep each per round, so that a change in the host's speed during \
         the run falls on all four alike; the same client (`mqsim bench stomp`: raw STOMP 1.2 frames, one \
         thread, TCP_NODELAY) and the procedure of anchor-baseline.md §3: N={} messages of {} bytes per test, \
         a {}-message warm-up in the first round, {} rounds; figures are median [min..max] (n reps). 1-minute \
         load average at the first → after the last rep: ActiveMQ {:.2} → {:.2}, RabbitMQ {:.2} → {:.2}, \
         quorum_mem {:.2} → {:.2}, quorum_disk {:.2} → {:.2}.\n\n\
         * **ActiveMQ 5.17.2** (Debian package): **one node, no replication**; Debian's JVM flags \
         (`-Xms512M -Xmx512M`), KahaDB with its default `journalDiskSyncStrategy=always` (an fsync per \
         synchronous send), `useJmx=false`, `schedulerSupport=false`.\n\
         * **RabbitMQ 3.10.8** (Debian package, Erlang 25): **3 nodes on this host** in one cluster, with the \
         STOMP plugin; each test gets a fresh **quorum queue** with 3 members (Raft), declared over AMQP \
         beforehand and addressed as `/amq/queue/NAME`. A SEND's RECEIPT is its publisher confirm: sent once a \
         majority (the leader and 1 follower) has written the message to its write-ahead log and fsynced it; \
         every member fsyncs. The clients connect to the node that leads the queues.\n\
         * **mqsim**: the 3-node cluster from `mqsim up` with a real 3-server ZooKeeper ensemble; the master \
         ships every write to **2 slaves** and a persistent send is acknowledged once the master has it and 1 \
         slave (`replicas/2`) has acked it. `quorum_mem`: nobody fsyncs before acking; `quorum_disk`: the master \
         and each slave fsync before acking: the same contract as the RabbitMQ quorum queue.\n\n",
        amq.started,
        amq.n,
        amq.size,
        amq.warmup,
        amq.reps.len(),
        amq.loadavg_before,
        amq.loadavg_after,
        rmq.loadavg_before,
        rmq.loadavg_after,
        r.quorum_mem.loadavg_before,
        r.quorum_mem.loadavg_after,
        r.quorum_disk.loadavg_before,
        r.quorum_disk.loadavg_after,
    );

    let produce_table = |s: &mut String, title: &str, f: Figure, pf: fn(&Rep) -> &Produce, targets: [&str; 2]| {
        *s += &format!(
            "### {title}\n\n| broker | msg/s | per-send median (ms) | per-send p99 (ms) | msg/s vs ActiveMQ | \
             msg/s vs RabbitMQ | target |\n|---|---|---|---|---|---|---|\n"
        );
        for (i, (name, run, _)) in rows.iter().enumerate() {
            let med: Vec<f64> = run.reps.iter().map(|x| pf(x).median_ms).collect();
            let p99: Vec<f64> = run.reps.iter().map(|x| pf(x).p99_ms).collect();
            *s += &format!(
                "| {name} | {} | {} | {} | {:.2}× | {:.2}× | {} |\n",
                mmm(&get(run, f), 0),
                mmm(&med, 3),
                mmm(&p99, 3),
                ratio(run, amq, f),
                ratio(run, rmq, f),
                targets.get(i).copied().unwrap_or("–")
            );
        }
        *s += "\n";
    };
    let am = ratio(&r.quorum_mem, amq, A);
    let ad = ratio(&r.quorum_disk, amq, A);
    let t_mem = format!("≥ 2.50× ActiveMQ (single-node persistent rate): {}", yes(am >= 2.5));
    let t_disk = format!("≥ 1.00× ActiveMQ while replicating: {}", yes(ad >= 1.0));
    produce_table(&mut s, "(a) 1 producer, synchronous persistent SEND + RECEIPT", A, |x| &x.a, [&t_mem, &t_disk]);
    produce_table(&mut s, "(b) 4 producers (4 connections, N in total), each synchronous", B, |x| &x.b, ["–", "–"]);

    s += &io_table(&rows);

    let mut consume_table = |title: &str, f: Figure| {
        s += &format!(
            "### {title}\n\n| broker | msg/s | vs ActiveMQ | vs RabbitMQ | target ≥ 25,000 msg/s |\n|---|---|---|---|---|\n"
        );
        for (name, run, mqsim) in rows {
            let m = median(&get(run, f));
            let target = if mqsim { yes(m >= 25_000.0) } else { "–" };
            s += &format!(
                "| {name} | {} | {:.2}× | {:.2}× | {target} |\n",
                mmm(&get(run, f), 0),
                ratio(run, amq, f),
                ratio(run, rmq, f)
            );
        }
        s += "\n";
    };
    consume_table("(c) consume (a)'s messages, `ack:client-individual`, one ACK per MESSAGE", C);
    consume_table("(c') consume (b)'s messages, `ack:auto`", C_AUTO);
    if let Some(left) = &r.rabbitmq_left {
        s += &left_table(left, rmq.n);
    }

    let mib = |v: Option<f64>| v.map_or("–".to_string(), |m| format!("{m:.1}"));
    s += "### Broker RSS (MiB)\n\nIdle: at least 5 s after the broker first answered a STOMP CONNECT, before the warm-up. \
          After: when the last rep is done, and of that the file-backed part (mapped files: for mqsim \
          its LMDB index, pages the kernel can drop and read again). For mqsim, the master's `mqsim node` \
          process; for RabbitMQ, the `beam.smp` of the node the clients talk to, which leads the queues.\n\n\
          | broker | idle | after the run | of which file-backed | idle vs ActiveMQ | target: idle < 30 MiB |\n\
          |---|---|---|---|---|---|\n";
    for (name, run, mqsim) in rows {
        let idle_ratio = match (run.rss_before_mib, amq.rss_before_mib) {
            (Some(x), Some(y)) => format!("{:.2}×", x / y),
            _ => "–".into(),
        };
        let target = match run.rss_before_mib {
            _ if !mqsim => "–",
            Some(m) => yes(m < 30.0),
            None => "not measured",
        };
        s += &format!(
            "| {name} | {} | {} | {} | {idle_ratio} | {target} |\n",
            mib(run.rss_before_mib),
            mib(run.rss_after_mib),
            mib(run.rss_after_file_mib)
        );
    }

    let cm = [median(&get(&r.quorum_mem, C)), median(&get(&r.quorum_disk, C))];
    let cam = [median(&get(&r.quorum_mem, C_AUTO)), median(&get(&r.quorum_disk, C_AUTO))];
    let rss = [r.quorum_mem.rss_before_mib, r.quorum_disk.rss_before_mib];
    s += &format!(
        "\n### Targets (store issue), against ActiveMQ measured in this run\n\n\
         | target | measured (medians) | |\n|---|---|---|\n\
         | `quorum_mem` single producer ≥ 2.5× ActiveMQ's single-node persistent rate | {am:.2}× | {} |\n\
         | `quorum_disk` single producer ≥ 1× it, while replicating | {ad:.2}× | {} |\n\
         | consume ≥ 25,000 msg/s ((c) client-individual and (c') auto, both sync modes) | (c) {:.0} / {:.0}, (c') {:.0} / {:.0} | {} |\n\
         | broker RSS under 30 MiB idle | {} / {} MiB | {} |\n",
        yes(am >= 2.5),
        yes(ad >= 1.0),
        cm[0],
        cm[1],
        cam[0],
        cam[1],
        yes(cm.iter().chain(&cam).all(|m| *m >= 25_000.0)),
        mib(rss[0]),
        mib(rss[1]),
        yes(rss.iter().all(|m| m.is_some_and(|m| m < 30.0))),
    );

    s += &peer_table(r);
    s += &how_to_read(r);
    s
}

/// The messages RabbitMQ still held after the run, in the queues of (a) (consumed by (c)) and
/// of (b) (consumed by (c')): queues named `*.a.1` and `*.b.1` by `scripts/bench-stomp.sh`.
fn left_table(left: &[QueueCount], n: usize) -> String {
    let counts = |test: &str| -> Vec<f64> {
        left.iter().filter(|q| q.name.ends_with(test)).map(|q| q.messages as f64).collect()
    };
    let (a, b) = (counts(".a.1"), counts(".b.1"));
    let show = |v: &[f64]| if v.is_empty() { "not counted".to_string() } else { mmm(v, 0) };
    let mut s = format!(
        "### Left in RabbitMQ's queues after the run\n\n\
         Counted with `rabbitmqctl list_queues` at least 15 s after the last rep (its counts lag by a few \
         seconds), one queue per test and round. Every message had been received by the consumer; in (c) \
         each was ACKed and the last ACK's RECEIPT received, then the consumer disconnected.\n\n\
         | queue | messages left, of {n} |\n|---|---|\n\
         | (a)'s, consumed by (c), `client-individual` | {} |\n\
         | (b)'s, consumed by (c'), `auto` | {} |\n\n",
        show(&a),
        show(&b)
    );
    if a.iter().chain(&b).any(|m| *m > 0.0) {
        s += "RabbitMQ answered those ACKs (and the RECEIPT after the last) before its queue had applied them, \
              and the ones still pending when the connection closed were dropped: those messages are delivered \
              again to the next consumer. So its (c) figure counts ACKs answered, not ACKs applied.\n\n";
    }
    s
}

/// `quorum_disk` against the replicated peer, figure by figure (no target: a comparison).
fn peer_table(r: &Runs) -> String {
    let (d, q) = (&r.quorum_disk, &r.rabbitmq);
    let mut s = "\n### `quorum_disk` against the replicated peer: RabbitMQ 3.10 quorum queue, 3 nodes\n\n\
                 Both acknowledge a persistent send once 2 of 3 copies are fsynced; both run on this one disk. \
                 Medians of this run.\n\n\
                 | figure | mqsim `quorum_disk` | RabbitMQ quorum queue | quorum_disk / RabbitMQ |\n|---|---|---|---|\n"
        .to_string();
    // Name, figure, decimals.
    let figures: [(&str, Figure, usize); 5] = [
        ("(a) 1 producer, msg/s", A, 0),
        ("(b) 4 producers, msg/s", B, 0),
        ("(c) consume, client-individual, msg/s", C, 0),
        ("(c') consume, auto, msg/s", C_AUTO, 0),
        ("(a) per-send median, ms", |x| x.a.median_ms, 3),
    ];
    for (name, f, p) in figures {
        let (x, y) = (median(&get(d, f)), median(&get(q, f)));
        s += &format!("| {name} | {x:.p$} | {y:.p$} | {:.2}× |\n", x / y);
    }
    let (fd, fq) = (median(&a_io(d, |i| i.flushes)), median(&a_io(q, |i| i.flushes)));
    if fd.is_finite() && fq.is_finite() {
        s += &format!("| (a) cache flushes per send | {fd:.2} | {fq:.2} | {:.2}× |\n", fd / fq);
    }
    s
}

/// The closing notes: what each send costs, and the disk measured alone.
fn how_to_read(r: &Runs) -> String {
    let disk = match &r.disk {
        Some(d) => format!(
            "Measured in this run (`mqsim bench disk`, {} appends per writer): one durable 1 KiB journal append \
             (`pwrite` + `fdatasync`, preallocated file) takes **{:.0} µs alone**{} and **{:.0} µs each with {} \
             writers at once**, each on its own file{}.",
            d.appends,
            d.alone_us,
            d.alone_io.map_or(String::new(), |io| format!(
                " ({:.2} cache flushes and {:.1} KiB written per append)",
                io.flushes, io.kib_written
            )),
            d.together_us,
            WRITERS,
            if d.together_us > d.alone_us {
                ": the virtual disk serves their writes and flushes one after another"
            } else {
                " (alone came out slower than together in this run: other work on the host weighs on these figures)"
            }
        ),
        None => "(The disk was not measured in this run.)".to_string(),
    };
    let flushes = |run: &Run| median(&a_io(run, |i| i.flushes));
    let (fd, fq, fa) = (flushes(&r.quorum_disk), flushes(&r.rabbitmq), flushes(&r.activemq));
    let per_send = if fd.is_finite() && fa.is_finite() {
        format!(
            " The table above counts it: **{fd:.2} cache flushes per `quorum_disk` send against {fa:.2} per \
             ActiveMQ send** (three fsyncs per send, which the kernel merges when they overlap)."
        )
    } else {
        String::new()
    };
    let rabbit_flushes =
        if fq.is_finite() { format!(" Counted: **{fq:.2} cache flushes per send**.") } else { String::new() };
    format!(
        "\nHow to read this:\n\n\
         * A synchronous send to ActiveMQ costs one loopback round trip and one journal fsync on one node. \
         `quorum_mem` costs two round trips (client → master, master → slave → master) and no fsync. \
         `quorum_disk` costs those two round trips and the fsyncs of the master and of the acking slave; \
         every slave fsyncs (`sync:true`), so three journals on one disk flush at about the same moment. {disk}{per_send} \
         So a `quorum_disk` send waits for about two flushes where ActiveMQ's waits for one; on three \
         hosts each node's flush would be its own.\n\
         * A send to the RabbitMQ quorum queue costs the same in kind: the STOMP plugin hands it to the \
         queue's leader on the same node, which appends it to its node's write-ahead log and sends it to both followers \
         over Erlang distribution (loopback); each member fsyncs its log, and the confirm (the RECEIPT) goes out \
         once the leader and one follower have. Each node has one write-ahead log for all its queues and fsyncs \
         what has gathered since the last fsync at once.{rabbit_flushes} Its RECEIPT for an ACK does not wait for \
         the queue to apply it (see the counts left in its queues), so that each test has a queue of its own \
         there too: a message whose ACK was dropped would come back to the next test.\n\
         * Each mqsim write is one `pwrite` to the master's append-only journal, shipped to the slaves at once; \
         the master's fsync (one for every write waiting: group commit) overlaps the slaves' round trip; the \
         slaves write, fsync (`*_disk`) and ack every `wal` frame already received together, and update \
         their index only after acking.\n\
         * Replication connections are gated for fault injection in place (`src/faults/gate.rs`), with no proxy \
         hop: master and slave talk directly over loopback.\n\
         * ACKs are not synced (a lost ack means a redelivery, never a loss); one that asks for a RECEIPT is \
         answered once it is written.\n\
         * Everything here shares 2 vCPUs with whatever else runs on the host: the load averages above say \
         how busy it was. RabbitMQ's three Erlang VMs and mqsim's three nodes plus ZooKeeper ensemble are all \
         up throughout, idle while another broker is measured.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::super::PRODUCERS;
    use super::*;
    use crate::bench::stomp::Consume;

    fn run(label: &str, x: f64) -> Run {
        let rep = |k: f64| Rep {
            a: Produce {
                msgs_per_s: 1000.0 * x * k,
                median_ms: 0.3,
                p99_ms: 1.0,
                io: Some(IoPer { flushes: x * k, kib_written: 4.0 * x }),
            },
            b: Produce { msgs_per_s: 2000.0 * x * k, median_ms: 0.9, p99_ms: 3.0, io: None },
            c: Consume { msgs_per_s: 20_000.0 * x * k },
            c_auto: Consume { msgs_per_s: 30_000.0 * x * k },
        };
        Run {
            label: label.into(),
            url: "tcp://127.0.0.1:1".into(),
            n: 10,
            size: 1024,
            warmup: 0,
            producers: PRODUCERS,
            started: "now".into(),
            loadavg_before: 0.5,
            loadavg_after: 1.0,
            rss_before_mib: Some(20.0 * x),
            rss_after_mib: Some(40.0 * x),
            rss_after_file_mib: Some(10.0 * x),
            reps: vec![rep(1.0), rep(0.9), rep(1.1)],
        }
    }

    fn runs() -> Runs {
        let alone_io = Some(IoPer { flushes: 1.0, kib_written: 4.1 });
        let disk = Disk { appends: 100, alone_us: 91.6, together_us: 204.4, alone_io };
        Runs {
            activemq: run("amq", 1.0),
            rabbitmq: run("rmq", 0.25),
            quorum_mem: run("mem", 3.0),
            quorum_disk: run("disk", 0.5),
            disk: Some(disk),
            rabbitmq_left: None,
        }
    }

    #[test]
    fn report_states_ratios_and_targets() {
        let text = report(&runs(), "host", "release");
        assert!(text.contains("**92 µs alone** (1.00 cache flushes and 4.1 KiB written per append) and **204 µs each with 3 writers at once**, each on its own file: the virtual disk serves"), "{text}");
        assert!(text.contains("| mqsim `quorum_disk` | 0.50 [0.45..0.55] (3) | 2.0 [2.0..2.0] (3) |"), "{text}");
        assert!(
            text.contains("**0.50 cache flushes per `quorum_disk` send against 1.00 per ActiveMQ send**"),
            "{text}"
        );
        assert!(text.contains("| mqsim `quorum_mem` | 3000 [2700..3300] (3) |"), "{text}");
        assert!(text.contains("≥ 2.50× ActiveMQ (single-node persistent rate): **met**"), "{text}");
        assert!(text.contains("≥ 1.00× ActiveMQ while replicating: **missed**"), "{text}");
        assert!(text.contains("| broker RSS under 30 MiB idle | 60.0 / 10.0 MiB | **missed** |"), "{text}");
        let json = serde_json::to_string(&runs().activemq).unwrap();
        let back: Run = serde_json::from_str(&json).unwrap();
        assert_eq!(back.reps.len(), 3);
    }

    #[test]
    fn report_compares_quorum_disk_with_the_replicated_peer() {
        let text = report(&runs(), "host", "release");
        // (a): quorum_disk 500 msg/s, RabbitMQ 250, ActiveMQ 1000.
        assert!(
            text.contains("| mqsim `quorum_disk` | 500 [450..550] (3) | 0.300 [0.300..0.300] (3) | 1.000 [1.000..1.000] (3) | 0.50× | 2.00× | ≥ 1.00× ActiveMQ while replicating: **missed** |"),
            "{text}"
        );
        assert!(
            text.contains("| RabbitMQ 3.10 quorum queue | 250 [225..275] (3) | 0.300 [0.300..0.300] (3) | 1.000 [1.000..1.000] (3) | 0.25× | 1.00× | – |"),
            "{text}"
        );
        assert!(text.contains("| RabbitMQ 3.10 quorum queue | 0.25 [0.23..0.28] (3) | 1.0 [1.0..1.0] (3) |"), "{text}");
        // Consume and RSS rows: no mqsim target for the peers.
        assert!(text.contains("| RabbitMQ 3.10 quorum queue | 5000 [4500..5500] (3) | 0.25× | 1.00× | – |"), "{text}");
        assert!(text.contains("| RabbitMQ 3.10 quorum queue | 5.0 | 10.0 | 2.5 | 0.25× | – |"), "{text}");
        assert!(text.contains("| (a) 1 producer, msg/s | 500 | 250 | 2.00× |"), "{text}");
        assert!(text.contains("| (c') consume, auto, msg/s | 15000 | 7500 | 2.00× |"), "{text}");
        assert!(text.contains("| (a) per-send median, ms | 0.300 | 0.300 | 1.00× |"), "{text}");
        assert!(text.contains("| (a) cache flushes per send | 0.50 | 0.25 | 2.00× |"), "{text}");
        assert!(text.contains("Counted: **0.25 cache flushes per send**."), "{text}");
        assert!(text.contains("RabbitMQ 0.50 → 1.00"), "{text}");
    }

    #[test]
    fn rounds_merge_into_one_run_per_broker() {
        let (mut a, mut b) = (run("amq", 1.0), run("amq", 2.0));
        a.rss_after_mib = Some(1.0);
        b.rss_before_mib = Some(99.0);
        let m = Run::merge(vec![a, b.clone()]).unwrap();
        assert_eq!(m.reps.len(), 6);
        assert_eq!((m.rss_before_mib, m.rss_after_mib), (Some(20.0), b.rss_after_mib));
        b.n = 11;
        assert!(Run::merge(vec![run("amq", 1.0), b]).is_err(), "different N cannot be merged");
        assert!(Run::merge(vec![]).is_err());
    }

    #[test]
    fn report_counts_what_rabbitmq_left_in_its_queues() {
        let mut r = runs();
        assert!(!report(&r, "host", "release").contains("Left in RabbitMQ's queues"));
        let q = |name: &str, messages| QueueCount { name: name.into(), messages };
        r.rabbitmq_left = Some(vec![
            q("bench.r1.warmup", 7),
            q("bench.r1.a.1", 4),
            q("bench.r1.b.1", 0),
            q("bench.r2.a.1", 2),
            q("bench.r2.b.1", 0),
        ]);
        let text = report(&r, "host", "release");
        assert!(text.contains("| queue | messages left, of 10 |"), "{text}");
        assert!(text.contains("| (a)'s, consumed by (c), `client-individual` | 3 [2..4] (2) |"), "{text}");
        assert!(text.contains("| (b)'s, consumed by (c'), `auto` | 0 [0..0] (2) |"), "{text}");
        assert!(text.contains("counts ACKs answered, not ACKs applied"), "{text}");
        r.rabbitmq_left = Some(vec![q("bench.r1.a.1", 0), q("bench.r1.b.1", 0)]);
        assert!(!report(&r, "host", "release").contains("not ACKs applied"), "nothing left, nothing to explain");
    }
}
