//! `mqsim lab loss`: loses acknowledged messages on purpose, to show what `sync` promises.
//!
//! # How it works
//!
//! On the running cluster, against its current master M, one step at a time:
//!
//! 1. A producer connected to M alone (`tcp://`, no failover) sends a numbered batch of
//!    persistent messages, each waiting for its RECEIPT; the lab waits until every slave's
//!    journal is as long as M's, so the slaves have the batch.
//! 2. M is cut off from its peers (`mqsim partition M --from peers`: replication stops,
//!    both ways). It keeps its ZooKeeper session, so it stays master and keeps serving.
//! 3. For a bounded time the producer keeps sending. Under `local_*` M acknowledges each send
//!    from its own journal; under `remote_*`/`quorum_*` the first send waits for a slave's
//!    ack that cannot come, so nothing more is acknowledged.
//! 4. M is killed (SIGKILL). A send still waiting then fails: never acknowledged. Once
//!    another node serves, M is healed (its faults file removed).
//! 5. Everything on the queue is consumed from the new master (failover URL) and compared
//!    with what was acknowledged: *lost* = acknowledged and never received.
//! 6. M is started again; it rejoins as a slave, and the resync ([`crate::store::resync`])
//!    cuts its journal where it parts from the new master's, keeping the dropped records in
//!    its `quarantine/` directory. The lab reports that event as the node wrote it.
//!
//! The verdict is [`crate::promise::judge`]'s: losses from step 3 are what `local_*`
//! allows; any loss from the batch, which every slave had, fails every mode. There is no
//! random choice in the lab (the master is whichever node serves), and every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::watch;

use crate::client::{AckMode, ConnectOptions, FailoverUrl, StompClient};
use crate::config::Config;
use crate::control::{self, Cut, Request, Verb};
use crate::error::{Error, Result};
use crate::events::{Event, EventKind, now_ms, read_from};
use crate::promise::{Counts, Promise, judge};
use crate::status::{ClusterStatus, Phase, ProcState, Role};

pub struct Options {
    /// Messages sent (and replicated) before the cut.
    pub batch: u64,
    /// How long the producer keeps sending while the master is cut off.
    pub cut_for: Duration,
    /// At most this many sends during the cut.
    pub cut_max: u64,
}

/// What one lab run saw.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub sync: String,
    /// `sync=... promises: ...`.
    pub promise: String,
    /// When the master acknowledges a persistent send, in this mode.
    pub acknowledges: String,
    pub queue: String,
    /// The master that was cut off and killed.
    pub master: String,
    pub new_master: String,
    /// Acknowledged before the cut (every slave had them).
    pub batch_acknowledged: u64,
    /// The slaves' journal end when the cut began.
    pub cut_position: i64,
    /// How long the producer sent while the master was cut off (s).
    pub cut_seconds: f64,
    /// Acknowledged while the master was cut off.
    pub cut_acknowledged: u64,
    /// A send was still waiting for its RECEIPT when the master was killed.
    pub send_waiting_at_kill: bool,
    /// The cut-off master's and the slaves' journal ends just before the kill.
    pub positions_at_kill: BTreeMap<String, i64>,
    /// From the kill until another node served (ms).
    pub failover_ms: u64,
    pub acknowledged: u64,
    /// Distinct messages consumed from the new master.
    pub received: u64,
    pub duplicates: u64,
    /// Acknowledged and never received.
    pub lost: u64,
    /// The lost seqs as ranges, e.g. `21-120`.
    pub lost_seqs: String,
    /// What the old master's rejoin did (its `resync` event), if it did one.
    pub rejoin: String,
    /// Messages the resync dropped from the old master's journal, if it said.
    pub dropped_on_rejoin: Option<u64>,
    /// `PASS` or `FAIL: ...`, judged against `promise`.
    pub verdict: crate::promise::Verdict,
    pub lost_allowed_by_sync: usize,
    /// Why this many were lost, in this mode.
    pub explanation: String,
}

impl Summary {
    pub fn verdict_line(&self) -> String {
        crate::promise::verdict_line(&self.verdict, &self.promise, self.lost_allowed_by_sync)
    }
}

/// Waits until `pred` holds on the status; the error names `what`.
async fn until(
    state_dir: &Path,
    limit: Duration,
    what: &str,
    pred: impl Fn(&ClusterStatus) -> bool,
) -> Result<ClusterStatus> {
    control::wait_for(state_dir, limit, Duration::from_millis(100), pred)
        .await
        .ok_or_else(|| Error::Timeout(format!("lab: {what} did not happen within {limit:?}")))
}

/// One master serving, every other node running as an attached slave, nothing cut.
fn settled(st: &ClusterStatus) -> bool {
    st.master_node().is_some_and(|m| m.serving)
        && st.nodes.iter().all(|n| {
            n.state == ProcState::Running
                && n.partitioned.is_none()
                && match n.role {
                    Some(Role::Master) => true,
                    Some(Role::Slave) => n.replication == Some(Phase::Attached),
                    _ => false,
                }
        })
}

fn position_of(st: &ClusterStatus, node: &str) -> i64 {
    st.nodes.iter().find(|n| n.name == node).and_then(|n| n.position).unwrap_or(-1)
}

#[derive(Default)]
struct Produced {
    acked: BTreeSet<u64>,
    /// The seq of a send whose RECEIPT never came.
    waiting: Option<u64>,
    error: Option<String>,
}

/// Sends `seq = from..` to `client` until `stop` or `max` sends; a send in progress when
/// `stop` comes is waited for (it ends when the master answers or dies).
async fn produce(
    mut client: StompClient,
    queue: String,
    from: u64,
    max: u64,
    tally: Arc<Mutex<Produced>>,
    stop: watch::Receiver<bool>,
) -> StompClient {
    for seq in from..from + max {
        if *stop.borrow() {
            break;
        }
        tally.lock().unwrap().waiting = Some(seq);
        let text = seq.to_string();
        let sent = client.send(&queue, Bytes::from(format!("seq={seq};")), &[("mqsim-seq", text.as_str())], true).await;
        let mut t = tally.lock().unwrap();
        match sent {
            Ok(()) => {
                t.acked.insert(seq);
                t.waiting = None;
            }
            Err(e) => {
                t.error = Some(e.to_string());
                break;
            }
        }
    }
    client
}

/// Everything on `queue` until 3 s pass without a message (bounded at 60 s).
async fn consume(url: &FailoverUrl, queue: &str) -> Result<BTreeMap<u64, u64>> {
    let mut client = StompClient::connect(url, ConnectOptions::default()).await?;
    client.subscribe(queue, AckMode::Auto, Some(1000)).await?;
    let mut got: BTreeMap<u64, u64> = BTreeMap::new();
    let drain = async {
        while let Some(f) = client.recv(Duration::from_secs(3)).await? {
            if let Some(seq) = f.get("mqsim-seq").and_then(|s| s.parse::<u64>().ok()) {
                *got.entry(seq).or_default() += 1;
            }
        }
        Ok::<_, Error>(())
    };
    tokio::time::timeout(Duration::from_secs(60), drain)
        .await
        .map_err(|_| Error::Timeout("lab: the queue did not drain within 60 s".into()))??;
    let _ = client.disconnect().await;
    Ok(got)
}

/// Sorted seqs as ranges: `1-3, 7`.
pub fn ranges(seqs: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seqs.len() {
        let mut j = i;
        while j + 1 < seqs.len() && seqs[j + 1] == seqs[j] + 1 {
            j += 1;
        }
        out.push(if i == j { seqs[i].to_string() } else { format!("{}-{}", seqs[i], seqs[j]) });
        i = j + 1;
    }
    out.join(", ")
}

/// `dropped <bytes> bytes holding <n> message(s)` in a resync event → `n`.
pub fn dropped_messages(resync_message: &str) -> Option<u64> {
    let (_, rest) = resync_message.split_once(" bytes holding ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// What the old master's rejoin did, from the events of the run.
fn rejoin_story(events: &[Event], node: &str) -> (String, Option<u64>) {
    let resync = events.iter().rev().find(|e| e.source == node && e.kind == EventKind::Resync);
    match resync {
        Some(e) => (e.message.clone(), dropped_messages(&e.message)),
        None => {
            (format!("{node} rejoined as a slave without a resync (its journal was a prefix of the master's)"), None)
        }
    }
}

fn explain(p: &Promise, master: &str, new_master: &str, s: &Summary) -> String {
    let mode = format!("sync={}: {}", p.sync, p.acknowledges());
    if p.replicated {
        let waiting = if s.send_waiting_at_kill { " (its last send was still waiting when it died)" } else { "" };
        format!(
            "{mode}; cut off from its slaves, {master} acknowledged {} message(s) during the cut{waiting}, so the \
             failover to {new_master} lost {} acknowledged message(s)",
            s.cut_acknowledged, s.lost
        )
    } else {
        format!(
            "{mode}; the {} message(s) {master} acknowledged while cut off existed only in its own journal, and \
             {new_master} never had them: lost {}",
            s.cut_acknowledged, s.lost
        )
    }
}

/// Runs the loss lab against the cluster of `cfg` (which must be up and settled);
/// `say` gets one line per step.
pub async fn run(cfg: &Config, opts: &Options, say: &dyn Fn(String)) -> Result<Summary> {
    let dir = cfg.state_dir();
    let promise = Promise::of(cfg.cluster.sync.as_str(), cfg.cluster.replicas).map_err(Error::InvalidInput)?;
    control::status(&dir).await?; // no cluster running: say so at once, not after 30 s
    let st =
        until(&dir, Duration::from_secs(30), "a settled cluster (one serving master, every slave attached)", settled)
            .await?;
    let master = st.master.clone().expect("settled");
    let index = cfg.nodes.iter().position(|n| n.name == master).ok_or_else(|| Error::Target(master.clone()))?;
    let failover: FailoverUrl = format!("{}&maxReconnectDelay=200", cfg.stomp_failover_url()).parse()?;
    let direct: FailoverUrl = failover.uri_string(index).parse()?;
    let (_, events_start) = read_from(&dir.join(crate::state_dir::EVENTS), 0)?;
    let queue = format!("/queue/mqsim.lab.{}", now_ms());
    say(format!("sync={}: {}", promise.sync, promise.acknowledges()));

    // 1. The batch, on every slave.
    let p0 = position_of(&st, &master);
    let tally = Arc::new(Mutex::new(Produced::default()));
    let (_never, no_stop) = watch::channel(false);
    let client = StompClient::connect(&direct, ConnectOptions::default()).await?;
    let client = produce(client, queue.clone(), 1, opts.batch, tally.clone(), no_stop).await;
    if let Some(e) = tally.lock().unwrap().error.clone() {
        return Err(Error::Other(format!("lab: the batch was not acknowledged: {e}")));
    }
    // Nodes report at least every 500 ms: a status a second after the batch shows where each
    // journal ends now, not where it was mid-batch.
    let batch_done = Instant::now();
    let st = until(&dir, Duration::from_secs(30), "every slave having the batch", |st| {
        let end = position_of(st, &master);
        batch_done.elapsed() >= Duration::from_secs(1) && end > p0 && st.nodes.iter().all(|n| n.position == Some(end))
    })
    .await?;
    let cut_position = position_of(&st, &master);
    say(format!(
        "1. {master} acknowledged messages 1..{} on {queue}; every slave has them (position {cut_position})",
        opts.batch
    ));

    // 2. The cut: replication stops, the ZooKeeper session does not.
    control::act(&dir, Request::Partition { target: master.clone(), from: Cut::Peers }).await?;
    let cut = CutOff { master: &master, position: cut_position, queue: &queue };
    let outcome = cut_and_kill(cfg, opts, &cut, client, tally.clone(), say).await;
    // Whatever happened, the node is not left cut off.
    let _ = control::act(&dir, Request::Heal { target: master.clone() }).await;
    let (cut_seconds, positions_at_kill, failover_ms, new_master) = match outcome {
        Ok(o) => o,
        Err(e) => {
            let _ = control::act(&dir, Request::Act { verb: Verb::Start, target: master.clone() }).await;
            return Err(e);
        }
    };
    let (acked, waiting) = {
        let t = tally.lock().unwrap();
        (t.acked.clone(), t.waiting.is_some())
    };
    let cut_acknowledged = acked.iter().filter(|s| **s > opts.batch).count() as u64;

    // 5. Consume everything from the new master.
    let got = consume(&failover, &queue).await;
    let got = match got {
        Ok(g) => g,
        Err(e) => {
            let _ = control::act(&dir, Request::Act { verb: Verb::Start, target: master.clone() }).await;
            return Err(e);
        }
    };
    let lost_seqs: Vec<u64> = acked.iter().copied().filter(|s| !got.contains_key(s)).collect();
    let lost_batch = lost_seqs.iter().filter(|s| **s <= opts.batch).count();
    let received = got.len() as u64;
    let duplicates = got.values().map(|n| n - 1).sum();
    say(format!(
        "5. consumed from {new_master}: {received} distinct of the {} acknowledged: lost {}",
        acked.len(),
        lost_seqs.len()
    ));

    // 6. The old master comes back.
    control::act(&dir, Request::Act { verb: Verb::Start, target: master.clone() }).await?;
    until(&dir, Duration::from_secs(60), &format!("{master} rejoining as an attached slave"), settled).await?;
    let (events, _) = read_from(&dir.join(crate::state_dir::EVENTS), events_start)?;
    let (rejoin, dropped_on_rejoin) = rejoin_story(&events, &master);
    say(format!("6. {master} restarted and rejoined as a slave: {rejoin}"));
    if !lost_seqs.is_empty() && dropped_on_rejoin.is_some() {
        say(format!(
            "   the {} lost message(s) are in that quarantine copy on {master} and nowhere else: nothing puts them back",
            lost_seqs.len()
        ));
    }

    let counts = Counts {
        lost: lost_seqs.len(),
        lost_without_failover: lost_batch,
        overlapping_masters: crate::chaos::overlapping_masters(&events).len(),
        acknowledged: acked.len(),
    };
    let mut problems = Vec::new();
    if lost_batch > 0 {
        problems.push(format!("{lost_batch} of the batch every slave had were lost"));
    }
    let verdict = judge(&promise, &counts, problems);
    let mut summary = Summary {
        sync: promise.sync.clone(),
        promise: verdict.promise.clone(),
        acknowledges: promise.acknowledges(),
        queue,
        master: master.clone(),
        new_master: new_master.clone(),
        batch_acknowledged: opts.batch,
        cut_position,
        cut_seconds,
        cut_acknowledged,
        send_waiting_at_kill: waiting,
        positions_at_kill,
        failover_ms,
        acknowledged: acked.len() as u64,
        received,
        duplicates,
        lost: lost_seqs.len() as u64,
        lost_seqs: ranges(&lost_seqs),
        rejoin,
        dropped_on_rejoin,
        verdict: verdict.verdict.clone(),
        lost_allowed_by_sync: verdict.lost_allowed_by_sync,
        explanation: String::new(),
    };
    summary.explanation = explain(&promise, &master, &new_master, &summary);
    Ok(summary)
}

type CutOutcome = (f64, BTreeMap<String, i64>, u64, String);

/// The master being cut off, its journal end at the cut, and the lab's queue.
struct CutOff<'a> {
    master: &'a str,
    position: i64,
    queue: &'a str,
}

/// Steps 2-4: produce while `master` is cut off, kill it, wait for another master.
async fn cut_and_kill(
    cfg: &Config,
    opts: &Options,
    cut: &CutOff<'_>,
    client: StompClient,
    tally: Arc<Mutex<Produced>>,
    say: &dyn Fn(String),
) -> Result<CutOutcome> {
    let (master, cut_position, queue) = (cut.master, cut.position, cut.queue);
    let dir = cfg.state_dir();
    until(&dir, Duration::from_secs(10), "the cut showing in status", |st| {
        st.nodes.iter().any(|n| n.name == master && n.partitioned.is_some())
    })
    .await?;
    // The node polls its faults file every 100 ms: give it time to shut its gates.
    tokio::time::sleep(Duration::from_secs(1)).await;
    say(format!("2. {master} cut off from its peers (no replication); it keeps its ZooKeeper session and serves on"));

    // 3. Keep producing.
    let (stop_tx, stop) = watch::channel(false);
    let t0 = Instant::now();
    let producer = tokio::spawn(produce(client, queue.to_string(), opts.batch + 1, opts.cut_max, tally.clone(), stop));
    let deadline = tokio::time::Instant::now() + opts.cut_for;
    while tokio::time::Instant::now() < deadline && !producer.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    let cut_seconds = t0.elapsed().as_secs_f64();
    // A send under way finishes at once if the master answers it; under a replicated mode
    // it waits for an ack that cannot come, until the kill.
    let waited = Instant::now();
    while !producer.is_finished() && waited.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (cut_acked, waiting) = {
        let t = tally.lock().unwrap();
        (t.acked.iter().filter(|s| **s > opts.batch).count(), t.waiting)
    };
    let waiting_note = match waiting {
        Some(seq) => format!("; send {seq} is still waiting for its receipt"),
        None => String::new(),
    };
    say(format!(
        "3. the producer kept sending for {cut_seconds:.1} s: {master} acknowledged {cut_acked} more{waiting_note}"
    ));
    // Node reports refresh about once a lease renewal: wait (bounded) for the master's to
    // show what the cut added to its journal, if anything was sent.
    let sent = cut_acked > 0 || waiting.is_some();
    let st = until(&dir, Duration::from_secs(5), "the master's report", |st| {
        !sent || position_of(st, master) > cut_position
    })
    .await;
    let st = match st {
        Ok(st) => st,
        Err(_) => control::status(&dir).await?,
    };
    let positions: BTreeMap<String, i64> =
        st.nodes.iter().map(|n| (n.name.clone(), n.position.unwrap_or(-1))).collect();
    let shown: Vec<String> = positions.iter().map(|(n, p)| format!("{n} {p}")).collect();
    say(format!("   journal ends (positions) now: {}", shown.join(", ")));

    // 4. Kill it; a waiting send fails with the connection.
    let t_kill = Instant::now();
    control::act(&dir, Request::Act { verb: Verb::Kill, target: master.to_string() }).await?;
    let st = until(&dir, Duration::from_secs(45), &format!("another master serving after {master} was killed"), |st| {
        st.master.as_deref().is_some_and(|m| m != master) && st.master_node().is_some_and(|m| m.serving)
    })
    .await
    .map_err(|e| Error::Timeout(format!("{e} (no node took over: `mqsim status` and `mqsim events` say why)")))?;
    let failover_ms = t_kill.elapsed().as_millis() as u64;
    let new_master = st.master.clone().expect("checked");
    match tokio::time::timeout(Duration::from_secs(35), producer).await {
        Ok(Ok(client)) => drop(client),
        Ok(Err(e)) => return Err(Error::Other(format!("lab: the producer failed: {e}"))),
        Err(_) => return Err(Error::Timeout("lab: the producer's last send never ended".into())),
    }
    let still_waiting = tally.lock().unwrap().waiting;
    let fate = match still_waiting {
        Some(seq) => format!("; send {seq} failed with the connection: never acknowledged"),
        None => String::new(),
    };
    say(format!("4. {master} killed (SIGKILL); {new_master} serves {:.1} s later{fate}", failover_ms as f64 / 1000.0));
    Ok((cut_seconds, positions, failover_ms, new_master))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ev;

    #[test]
    fn reads_the_dropped_count_of_a_resync_event() {
        let m = "node01: incremental resync from position 4096: 0 log file(s) the master collected deleted; dropped \
                 5120 bytes holding 37 message(s) from position 4096 on (what the master has of them comes back \
                 from it), kept in /x/quarantine/dropped-1.log; the index is rebuilt";
        assert_eq!(dropped_messages(m), Some(37));
        assert_eq!(dropped_messages("node01: clearing the store"), None);
    }

    #[test]
    fn the_rejoin_story_is_the_node_s_last_resync() {
        let events = vec![
            ev(1, "node02", EventKind::Resync, "node02: dropped 1 bytes holding 9 message(s)"),
            ev(1, "node01", EventKind::Resync, "node01: dropped 10 bytes holding 2 message(s)"),
        ];
        assert_eq!(rejoin_story(&events, "node01"), ("node01: dropped 10 bytes holding 2 message(s)".into(), Some(2)));
        assert!(rejoin_story(&events, "node03").0.contains("without a resync"));
    }

    #[test]
    fn seqs_as_ranges() {
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), "1-3, 7, 9-10");
    }
}
