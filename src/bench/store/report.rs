//! The `store` section of docs/benchmarks.md, from one run's JSON files.
//!
//! The section keeps the first run written (the *before*) and the latest, each labelled
//! (`--label`) and tagged with its commit; a run with the same label replaces the earlier
//! one, and `--fresh` starts over. The figures are kept in the section as JSON inside
//! HTML comments (`<!-- store-run {...} -->`), so a later run can show the comparison
//! without re-running the old build. With two runs a before → after table follows.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Du;
use super::cluster::{CatchUp, Restart};
use super::load::{Drain, Fill};
use crate::error::{Error, Result};

const MARK: &str = "<!-- store-run ";

/// One broker's steps (`<broker>.<step>.json`, absent steps `None`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Steps {
    pub fill_a: Option<Fill>,
    pub drain_a: Option<Drain>,
    pub du_a: Option<Du>,
    pub fill_b: Option<Fill>,
    pub du_b: Option<Du>,
    pub restart: Option<Restart>,
    pub restart_index: Option<Restart>,
    pub drain_b: Option<Drain>,
    pub catch_up: Option<CatchUp>,
    pub drain_c: Option<Drain>,
    pub fill_d: Option<Fill>,
    pub select_d: Option<Drain>,
    pub rest_d: Option<Drain>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub label: String,
    pub commit: String,
    pub when: String,
    pub host: String,
    pub sync: String,
    pub memory_limit: u64,
    pub store_limit: u64,
    /// `logSize` of the build's cluster settings, if it has one.
    pub log_size: Option<u64>,
    /// How long the script ran, up to the report (seconds).
    #[serde(default)]
    pub secs: Option<u64>,
    /// The 1-minute load average at the start and at the end of the run.
    #[serde(default)]
    pub load: Option<String>,
    pub activemq: Steps,
    pub mqsim: Steps,
}

fn step<T: DeserializeOwned>(work: &Path, broker: &str, name: &str) -> Result<Option<T>> {
    let path = work.join(format!("{broker}.{name}.json"));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            Ok(Some(serde_json::from_str(&text).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
    }
}

fn steps(work: &Path, broker: &str) -> Result<Steps> {
    Ok(Steps {
        fill_a: step(work, broker, "fill-a")?,
        drain_a: step(work, broker, "drain-a")?,
        du_a: step(work, broker, "du-a")?,
        fill_b: step(work, broker, "fill-b")?,
        du_b: step(work, broker, "du-b")?,
        restart: step(work, broker, "restart")?,
        restart_index: step(work, broker, "restart-index")?,
        drain_b: step(work, broker, "drain-b")?,
        catch_up: step(work, broker, "catch-up")?,
        drain_c: step(work, broker, "drain-c")?,
        fill_d: step(work, broker, "fill-d")?,
        select_d: step(work, broker, "select-d")?,
        rest_d: step(work, broker, "rest-d")?,
    })
}

/// `67108864`, `"64MiB"`, `"64 MB"`, ... → bytes.
pub fn parse_size(v: &serde_json::Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = (s[..split].parse::<u64>().ok()?, s[split..].trim().to_ascii_lowercase());
    let mul: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    Some(num * mul)
}

/// The first value under `key` in `v`, at any depth.
fn find_key<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find_key(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

/// Reads the run in `work` (the script's directory; the cluster's config in `mqsim/`).
pub fn load(work: &Path, label: &str, host: String) -> Result<Run> {
    let config = crate::config::Config::load(&work.join("mqsim/cluster.toml"))?;
    // By name, wherever the build keeps it, so that a build without the setting still
    // reads (and says so).
    let log_size = find_key(&serde_json::to_value(&config)?, "logSize").and_then(parse_size);
    let when = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_default();
    Ok(Run {
        label: label.to_string(),
        commit: crate::bench::hostile::git_commit(),
        when,
        host,
        sync: config.cluster.sync.to_string(),
        memory_limit: config.cluster.memory_limit,
        store_limit: config.cluster.store_limit,
        log_size,
        load: load_average(work),
        secs: std::fs::read_to_string(work.join("started"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|t| crate::events::now_ms() / 1000 - t),
        activemq: steps(work, "activemq")?,
        mqsim: steps(work, "mqsim")?,
    })
}

/// `loadavg.start` → `loadavg.end` as the script wrote them.
fn load_average(work: &Path) -> Option<String> {
    let read = |f: &str| std::fs::read_to_string(work.join(f)).ok().map(|s| s.trim().to_string());
    Some(format!("{} → {}", read("loadavg.start")?, read("loadavg.end").unwrap_or_else(|| "?".into())))
}

pub fn stored_runs(text: &str) -> Vec<Run> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(MARK)?.strip_suffix("-->"))
        .filter_map(|json| serde_json::from_str(json.trim()).ok())
        .collect()
}

/// The oldest kept run and the new one (`fresh`: the new one only).
pub fn keep(mut old: Vec<Run>, new: Run, fresh: bool) -> Vec<Run> {
    old.retain(|r| r.label != new.label);
    let mut runs: Vec<Run> = if fresh { Vec::new() } else { old.into_iter().take(1).collect() };
    runs.push(new);
    runs
}

pub fn command(work: &Path, label: &str, fresh: bool, out: &Path, host: String) -> Result<()> {
    let run = load(work, label, host)?;
    let old = std::fs::read_to_string(out).map(|t| stored_runs(&section_of(&t))).unwrap_or_default();
    let text = section(&keep(old, run, fresh));
    println!("{text}");
    crate::bench::write_section(out, "store", &text)?;
    eprintln!("written to {}", out.display());
    Ok(())
}

/// The current `store` section of a file's text.
fn section_of(text: &str) -> String {
    let (b, e) = ("<!-- begin:store -->", "<!-- end:store -->");
    match (text.find(b), text.find(e)) {
        (Some(a), Some(z)) if a < z => text[a..z].to_string(),
        _ => String::new(),
    }
}

fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / (1u64 << 20) as f64)
}

fn secs(s: f64) -> String {
    format!("{s:.2}")
}

/// msg/s: whole numbers, with a decimal below 10 (a trickle is not 0).
fn rate(r: f64) -> String {
    if r < 10.0 { format!("{r:.1}") } else { format!("{r:.0}") }
}

fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> String) -> String {
    v.as_ref().map_or("–".into(), f)
}

pub fn section(runs: &[Run]) -> String {
    let mut s = String::from(
        "## The store at scale: disk, restart, catch-up, selective dispatch (issue 12)\n\n\
         Measured with `scripts/bench-store.sh` (mqsim release build): in one run, a real \
         **ActiveMQ 5.17.2** (Debian package, Debian's JVM flags `-Xms512M -Xmx512M`, **one node, no \
         replication**, KahaDB with its defaults: 32 MiB journal files, a checkpoint every 5 s, journal \
         GC every 30 s) and an **mqsim 3-node cluster** (real 3-server ZooKeeper ensemble) get the same \
         STOMP workload, one broker at a time, from the same client (`mqsim bench store`: raw STOMP \
         1.2 frames; persistent SENDs with a RECEIPT each, up to 32 outstanding per producer \
         connection; consumers `ack:client-individual` with one ACK per MESSAGE and a \
         DISCONNECT receipt at the end, so every consumed message is dead in the store). \
         Sizes in MiB; *apparent* is `du -sb` (file lengths: a preallocated or sparse tail counts), \
         *allocated* is `du -s -B1` (blocks on disk: a sparse hole does not count). mqsim's journal \
         keeps a 16 MiB reserve of written zeros past its end once it has fsynced (the `*_disk` \
         modes; this bench runs `quorum_mem`); both measures would count it. Each run keeps its figures in this \
         section; the first run written stays as the *before*.\n\n",
    );
    for r in runs {
        s += &run_text(r);
    }
    if runs.len() >= 2 {
        s += &compare(&runs[0], &runs[runs.len() - 1]);
    }
    for r in runs {
        s += &format!("{MARK}{} -->\n", serde_json::to_string(r).unwrap_or_default());
    }
    s
}

fn run_text(r: &Run) -> String {
    let (a, m) = (&r.activemq, &r.mqsim);
    let n = m.fill_a.as_ref().or(a.fill_a.as_ref()).map_or(0, |f| f.n);
    let size = m.fill_a.as_ref().or(a.fill_a.as_ref()).map_or(0, |f| f.size);
    let mut s = format!(
        "### Run “{}” at `{}` ({}, {}, {} s, 1-minute load average {})\n\n\
         N = {n} messages of {size} bytes. mqsim: `sync = {}`; `memoryLimit = {}` MiB and `storeLimit = {}` \
         MiB, set for this run to 2 × N × (size + 512 B) and 8 × N × (size + 512 B), at least the defaults \
         (64 MiB, 10 GiB): mqsim holds every waiting message in memory, and at the default 64 MiB a \
         producer is held back once roughly 50,000 messages of 1 KiB wait (body, headers and 128 B each \
         count), far short of (d)'s queue; {}.\n\n",
        r.label,
        r.commit,
        r.when,
        r.host,
        opt(&r.secs, |t| t.to_string()),
        r.load.as_deref().unwrap_or("?"),
        r.sync,
        mib(r.memory_limit),
        mib(r.store_limit),
        match r.log_size {
            Some(l) => format!("`logSize = {}` MiB", mib(l)),
            None => "this build has no `logSize`: one journal file, `0000000000000000.log`, that never shrinks".into(),
        }
    );
    s += &disk_a(r, n, size);
    s += &restarts(r);
    s += &catch_up(r);
    s += &selective(r);
    s
}

fn fill_line(who: &str, f: &Option<Fill>, d: &Option<Drain>) -> String {
    format!(
        "{who}: sent at {}, consumed at {}",
        opt(f, |f| format!("{} msg/s ({} producers)", rate(f.msgs_per_s), f.producers)),
        opt(d, |d| format!("{} msg/s ({} received)", rate(d.msgs_per_s), d.received))
    )
}

fn disk_a(r: &Run, n: usize, size: usize) -> String {
    let (a, m) = (&r.activemq, &r.mqsim);
    let live = |st: &Steps| {
        let sent = st.fill_a.as_ref().map_or(0, |f| f.n);
        let got = st.drain_a.as_ref().map_or(0, |d| d.received);
        sent.saturating_sub(got)
    };
    let mut s = format!(
        "#### (a) Disk after {n} × {size} B sent and consumed\n\n\
         {}; {}. {} MiB of bodies went through each broker; live data afterwards: ActiveMQ {} \
         messages, mqsim {} (messages sent and not consumed × {size} B). Sizes right after the last \
         ACK, then after {} s idle.\n\n\
         | store directory | right after: apparent / allocated | of which `*.log` (files) | after idle: apparent / allocated | of which `*.log` (files) | goal ≤ 2 × live + one log file |\n\
         |---|---|---|---|---|---|\n",
        fill_line("ActiveMQ", &a.fill_a, &a.drain_a),
        fill_line("mqsim", &m.fill_a, &m.drain_a),
        mib((n * size) as u64),
        live(a),
        live(m),
        opt(&m.du_a.as_ref().or(a.du_a.as_ref()).map(|d| d.settle_s), |t| format!("{t:.0}")),
    );
    let rows = |who: &str, st: &Steps, goal: &dyn Fn(&super::DirUsage) -> String| -> String {
        let Some(du) = &st.du_a else { return format!("| {who} | – | – | – | – | – |\n") };
        let mut out = String::new();
        for (i, first) in du.first.dirs.iter().enumerate() {
            let last = du.settled.as_ref().and_then(|d| d.dirs.get(i));
            out += &format!(
                "| {who} `{}` | {} / {} | {} ({}) | {} | {} | {} |\n",
                first.name,
                mib(first.apparent),
                mib(first.allocated),
                mib(first.log_apparent),
                first.log_files,
                opt(&last, |l| format!("{} / {}", mib(l.apparent), mib(l.allocated))),
                opt(&last, |l| format!("{} ({})", mib(l.log_apparent), l.log_files)),
                goal(last.unwrap_or(first)),
            );
        }
        out
    };
    s += &rows("ActiveMQ", a, &|_| "–".into());
    let live_bytes = (live(m) * size) as u64;
    s += &rows("mqsim", m, &|u| match r.log_size {
        Some(l) => {
            let bound = 2 * live_bytes + l;
            let v = |x: u64| if x <= bound { "met" } else { "missed" };
            format!("≤ {}: **{}** (allocated), {} (apparent)", mib(bound), v(u.allocated), v(u.apparent))
        }
        None => format!(
            "– (no `logSize`; the directory holds {:.2}× the bodies sent)",
            u.allocated as f64 / (n * size).max(1) as f64
        ),
    });
    s + "\n"
}

fn restarts(r: &Run) -> String {
    let (a, m) = (&r.activemq, &r.mqsim);
    let live = m.fill_b.as_ref().or(a.fill_b.as_ref()).map_or(0, |f| f.n);
    let history = m.restart.as_ref().and_then(|x| x.position);
    let mut s = format!(
        "#### (b) Restart with (a)'s history and {live} live messages\n\n\
         mqsim's journal position (bytes ever written) at the restart: {} MiB. A restart stops the broker \
         cleanly (ActiveMQ: SIGTERM; mqsim: `mqsim stop nodes`, all three) and starts it again; *serving* \
         is the first STOMP CONNECT answered, *attached* the last slave whose status says `attached` \
         (mqsim's nodes elect a master, which waits for a slave to catch up before it serves). \
         *Index deleted*: ActiveMQ's `db.data` and `db.redo` (KahaDB rebuilds its index from the journal \
         files that GC left), mqsim's index: the entries of each store directory named in the table \
         (rebuilt from the journal). ActiveMQ's times include the JVM's start. Seconds from the start command.\n\n\
         | broker | store directory at the restart: apparent / allocated | clean: serving / attached | index deleted: serving / attached | deleted | live messages drained afterwards |\n\
         |---|---|---|---|---|---|\n",
        opt(&history, |p| mib(*p as u64)),
    );
    let row = |who: &str, st: &Steps| {
        let dirs = opt(&st.du_b, |d| {
            let one = |u: &super::DirUsage| format!("`{}` {} / {}", u.name, mib(u.apparent), mib(u.allocated));
            d.first.dirs.iter().map(one).collect::<Vec<_>>().join("; ")
        });
        let times = |x: &Restart| format!("{} / {}", secs(x.serving_s), opt(&x.attached_s, |t| secs(*t)));
        format!(
            "| {who} | {dirs} | {} | {} | {} | {} |\n",
            opt(&st.restart, times),
            opt(&st.restart_index, times),
            opt(&st.restart_index, |x| if x.deleted.is_empty() { "–".into() } else { x.deleted.join(", ") }),
            opt(&st.drain_b, |d| format!("{} of {live}", d.received)),
        )
    };
    s += &row("ActiveMQ 5.17.2", a);
    s += &row(&format!("mqsim `{}`", r.sync), m);
    s + "\n"
}

fn catch_up(r: &Run) -> String {
    let m = &r.mqsim;
    let mut s = String::from(
        "#### (c) Slave catch-up\n\n\
         One slave stopped (`mqsim stop`), M messages sent to the master, the slave started again: seconds \
         from its start to its status saying `attached` (the time of its `slave-attaching`/`slave-attached` \
         event, named in the table; `status`: of the status file, read every 20 ms but rewritten about \
         every 500 ms).\n\n\
         | broker | messages missed (M) | journal bytes missed | sent at | start → attached (s) |\n|---|---|---|---|---|\n\
         | ActiveMQ 5.17.2 | n/a: one node, no replicated store | n/a | n/a | n/a |\n",
    );
    s += &match &m.catch_up {
        Some(c) => format!(
            "| mqsim `{}` ({}) | {} | {} MiB | {:.0} msg/s | {} ({}) |\n",
            r.sync,
            c.node,
            c.missed,
            if c.missed_bytes >= 0 { mib(c.missed_bytes as u64) } else { "?".into() },
            c.fill.msgs_per_s,
            secs(c.attached_s),
            c.via
        ),
        None => format!("| mqsim `{}` | – | – | – | – |\n", r.sync),
    };
    s + "\n"
}

fn selective(r: &Run) -> String {
    let mut s = String::from(
        "#### (d) A selective consumer on a deep queue\n\n\
         The queue is filled first (1 message in 100 has `color:red`, the others `color:blue`), then one \
         consumer subscribes with `selector: color = 'red'` (prefetch 1000) and acks each message. Timed \
         from its SUBSCRIBE; it ends at the last match, when nothing comes for the idle time (a stall), or \
         at its time limit. Then a plain consumer drains the rest (with the matches left, if any). \
         ActiveMQ runs with its default destination policy (nothing in `activemq.xml` changes paging \
         or cursors).\n\n\
         | broker | queue depth | filled at | matching | received (`color` headers) | first match (s) | last match (s) | matches/s | outcome | the rest drained |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let row = |who: &str, st: &Steps| {
        let Some(d) = &st.select_d else {
            return format!("| {who} | – | – | – | – | – | – | – | – | – |\n");
        };
        let outcome = if d.stalled {
            format!("**stalled**: nothing for {:.0} s", d.idle_s)
        } else if d.capped {
            format!("**not done** within the {:.0} s limit", d.limit_s.unwrap_or_default())
        } else {
            "every match received".into()
        };
        format!(
            "| {who} | {} | {} | {} | {} | {} | {} | {} | {outcome} | {} |\n",
            opt(&st.fill_d, |f| f.n.to_string()),
            opt(&st.fill_d, |f| format!("{:.0} msg/s", f.msgs_per_s)),
            opt(&d.expected, |e| e.to_string()),
            received(d),
            opt(&d.first_s, |t| secs(*t)),
            secs(d.secs),
            rate(d.msgs_per_s),
            opt(&st.rest_d, |x| format!("{} at {:.0} msg/s", x.received, x.msgs_per_s)),
        )
    };
    s += &row("ActiveMQ 5.17.2", &r.activemq);
    s += &row(&format!("mqsim `{}`", r.sync), &r.mqsim);
    s + "\n"
}

/// `8 (8 red)`: what came, by its `color` header.
fn received(d: &Drain) -> String {
    let colors: Vec<String> = d.colors.iter().map(|(c, n)| format!("{n} {c}")).collect();
    if colors.is_empty() { d.received.to_string() } else { format!("{} ({})", d.received, colors.join(", ")) }
}

/// The largest mqsim store directory after idle in (a), allocated bytes.
fn largest_a(st: &Steps) -> Option<u64> {
    let du = st.du_a.as_ref()?;
    du.settled.as_ref().unwrap_or(&du.first).dirs.iter().map(|d| d.allocated).max()
}

fn compare(before: &Run, after: &Run) -> String {
    let (b, a) = (&before.mqsim, &after.mqsim);
    let pair = |x: String, y: String| format!("{x} → {y}");
    let rows = [
        ("N (messages per fill)", pair(opt(&b.fill_a, |f| f.n.to_string()), opt(&a.fill_a, |f| f.n.to_string()))),
        (
            "(a) largest store directory after idle, allocated MiB",
            pair(opt(&largest_a(b), |x| mib(*x)), opt(&largest_a(a), |x| mib(*x))),
        ),
        (
            "(b) clean restart → serving (s)",
            pair(opt(&b.restart, |x| secs(x.serving_s)), opt(&a.restart, |x| secs(x.serving_s))),
        ),
        (
            "(b) index deleted → serving (s)",
            pair(opt(&b.restart_index, |x| secs(x.serving_s)), opt(&a.restart_index, |x| secs(x.serving_s))),
        ),
        (
            "(c) catch-up → attached (s)",
            pair(opt(&b.catch_up, |x| secs(x.attached_s)), opt(&a.catch_up, |x| secs(x.attached_s))),
        ),
        ("(d) matches/s", pair(opt(&b.select_d, |x| rate(x.msgs_per_s)), opt(&a.select_d, |x| rate(x.msgs_per_s)))),
    ];
    let mut s = format!(
        "### mqsim: “{}” (`{}`) → “{}” (`{}`)\n\n| figure | before → after |\n|---|---|\n",
        before.label, before.commit, after.label, after.commit
    );
    for (k, v) in rows {
        s += &format!("| {k} | {v} |\n");
    }
    s + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str) -> Run {
        Run {
            label: label.into(),
            commit: "abc1234".into(),
            when: "now".into(),
            host: "here".into(),
            sync: "quorum_mem".into(),
            memory_limit: 1 << 30,
            store_limit: 1 << 34,
            log_size: None,
            load: None,
            secs: None,
            activemq: Steps::default(),
            mqsim: Steps::default(),
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size(&serde_json::json!(4096)), Some(4096));
        assert_eq!(parse_size(&serde_json::json!("64MiB")), Some(64 << 20));
        assert_eq!(parse_size(&serde_json::json!("100 MB")), Some(100_000_000));
        assert_eq!(parse_size(&serde_json::json!("lots")), None);
        let config = serde_json::json!({"cluster": {"sync": "x"}, "store": [{"logSize": "1MiB"}]});
        assert_eq!(find_key(&config, "logSize").and_then(parse_size), Some(1 << 20));
        assert_eq!(find_key(&config, "nothing"), None);
    }

    #[test]
    fn the_section_keeps_the_first_run_and_the_latest() {
        let text = section(&[run("before")]);
        let old = stored_runs(&text);
        assert_eq!(old.len(), 1);
        let runs = keep(old, run("after 1"), false);
        let runs = keep(stored_runs(&section(&runs)), run("after 2"), false);
        let labels: Vec<_> = runs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["before", "after 2"]);
        assert!(section(&runs).contains("before → after"), "two runs are compared");
        assert_eq!(keep(runs, run("x"), true).len(), 1, "--fresh drops the old runs");
    }
}
