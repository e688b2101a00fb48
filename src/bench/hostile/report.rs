//! The `hostile` section of docs/benchmarks.md, for a before/after comparison.
//!
//! The section keeps at most two runs: the first one written (the *before*: the baseline
//! the defences are measured against) and the latest; a run of the same commit replaces
//! the earlier one, and `--fresh` starts over. Each run is a table of its own, and with two
//! runs a comparison table follows. The runs' figures are kept in the section as JSON
//! inside HTML comments (`<!-- hostile-run {...} -->`, invisible when rendered), so that a
//! later run can rebuild the comparison without re-running the old build.

use super::{CANARY, ProbeResult, Run, SETTLE};

const MARK: &str = "<!-- hostile-run ";

/// The runs stored in a previous `hostile` section (its whole text, markers or not).
pub fn stored_runs(section: &str) -> Vec<Run> {
    section
        .lines()
        .filter_map(|l| l.trim().strip_prefix(MARK)?.strip_suffix("-->"))
        .filter_map(|json| serde_json::from_str(json.trim()).ok())
        .collect()
}

/// The runs to show: the oldest kept one and the new one (`fresh`: the new one only).
pub fn keep(mut old: Vec<Run>, new: Run, fresh: bool) -> Vec<Run> {
    old.retain(|r| r.commit != new.commit);
    let mut runs: Vec<Run> = if fresh { Vec::new() } else { old.into_iter().take(1).collect() };
    runs.push(new);
    runs
}

fn rss(p: &ProbeResult) -> String {
    if p.rss_before_mib.is_nan() {
        return "–".into();
    }
    let delta = p.rss_peak_mib - p.rss_before_mib;
    let peak = format!("{:.0} → {:.0}", p.rss_before_mib, p.rss_peak_mib);
    if delta >= 100.0 { format!("**{peak}**") } else { peak }
}

fn stall(p: &ProbeResult) -> String {
    match p.stall_ms {
        s if s.is_nan() => "–".into(),
        s if s >= 1000.0 => format!("**{s:.0}**"),
        s => format!("{s:.0}"),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn run_table(run: &Run) -> String {
    let mut s = format!(
        "### Run at `{}` ({}, {} build, {}, {:.0} s)\n\n\
         | # | probe | master RSS before → peak (MiB) | master CPU | longest stall (ms) | failover | canary | offender got | measured |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        run.commit, run.started, run.build, run.host, run.secs
    );
    let mut notes = Vec::new();
    for p in &run.probes {
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            p.id,
            p.name,
            rss(p),
            if p.cpu.is_nan() { "–".into() } else { format!("{:.0} %", p.cpu * 100.0) },
            stall(p),
            cell(&p.failover),
            cell(&p.canary),
            cell(&p.offender),
            cell(&p.result)
        );
        let mut n = p.notes.clone();
        if p.panics > 0 {
            n.push(format!("{} new `panicked` line(s) in the master's log", p.panics));
        }
        if let Some(e) = &p.producer_note {
            n.push(format!("the unrelated producer: {e}"));
        }
        if !n.is_empty() {
            notes.push(format!("* {} {}: {}.", p.id, p.name, n.join("; ")));
        }
    }
    if !notes.is_empty() {
        s += &format!("\n{}\n", notes.join("\n"));
    }
    s + "\n"
}

fn comparison(a: &Run, b: &Run) -> String {
    let mut s = format!(
        "### `{}` → `{}`\n\n| # | probe | RSS peak − before (MiB) | longest stall (ms) | failover | canary | offender got |\n\
         |---|---|---|---|---|---|---|\n",
        a.commit, b.commit
    );
    for pb in &b.probes {
        let Some(pa) = a.probes.iter().find(|p| p.id == pb.id) else { continue };
        let grow = |p: &ProbeResult| {
            if p.rss_before_mib.is_nan() {
                "–".to_string()
            } else {
                format!("{:+.0}", p.rss_peak_mib - p.rss_before_mib)
            }
        };
        s += &format!(
            "| {} | {} | {} → {} | {} → {} | {} → {} | {} → {} | {} → {} |\n",
            pb.id,
            pb.name,
            grow(pa),
            grow(pb),
            stall(pa),
            stall(pb),
            cell(&pa.failover),
            cell(&pb.failover),
            cell(&pa.canary),
            cell(&pb.canary),
            cell(&pa.offender),
            cell(&pb.offender)
        );
    }
    s + "\n"
}

/// The whole `hostile` section for `runs` (oldest first).
pub fn section(runs: &[Run]) -> String {
    let mut s = format!(
        "## Hostile input (issue 11)\n\n\
         Written by `mqsim bench hostile` (`scripts/bench-hostile.sh`). One private 3-node cluster (real ZooKeeper \
         ensemble, its own ports and temporary state directory, a `[[user]]`, `storeLimit` 64 MiB, nodes started \
         with a soft limit of 1024 open files); the probes run one after another. Before each probe {CANARY} \
         persistent messages are sent and acknowledged (RECEIPT) to a queue of its own (the *canary*); during it an \
         *unrelated producer* sends small persistent messages with receipts, one at a time, and the *longest stall* \
         is its longest wait for one receipt (across a reconnect, if its connection was lost); the master's RSS is \
         read every 50 ms. After the probe and {} s of quiet: did the master change (*failover*), and does \
         whichever node is master then deliver every canary message. Legitimate clients and the attackers (except \
         probe 6) log in with the cluster's user: the attacks are by a client that has credentials. Bold marks \
         harm: RSS growth of 100 MiB or more, a stall of a second or more, a failover, a lost canary, an attack \
         that worked. Row 10 of the issue (journal corruption) is covered by the store's tests, not probed here. The \
         section keeps the first run written (*before*: the build without the defences) and the latest, each \
         labelled with the commit it ran at, and compares the two.\n\n\
         | # | probe | what is sent |\n|---|---|---|\n",
        SETTLE.as_secs()
    );
    if let Some(last) = runs.last() {
        for p in last.probes.iter().filter(|p| p.id != 0) {
            s += &format!("| {} | {} | {} |\n", p.id, p.name, cell(&p.what));
        }
    }
    s += "\n";
    for r in runs {
        s += &run_table(r);
    }
    if let [first, .., last] = runs {
        s += &comparison(first, last);
    }
    for r in runs {
        let json = serde_json::to_string(r).expect("a run serializes").replace("-->", "--\\u003e");
        s += &format!("{MARK}{json} -->\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(commit: &str, stall_ms: f64) -> Run {
        let p = ProbeResult {
            id: 5,
            name: "selector-flood".into(),
            what: "10 | subscriptions".into(),
            rss_before_mib: 20.0,
            rss_peak_mib: 700.0,
            cpu: 1.1,
            stall_ms,
            producer_sends: 10,
            producer_note: Some("a --> b".into()),
            failover: "**yes: node01 → node02**".into(),
            failed_over: true,
            offender: "10/10 accepted".into(),
            result: "slow".into(),
            canary: "20/20".into(),
            canary_intact: true,
            panics: 1,
            notes: vec![],
            secs: 9.0,
        };
        Run {
            commit: commit.into(),
            started: "now".into(),
            host: "h".into(),
            build: "debug".into(),
            secs: 60.0,
            probes: vec![p],
        }
    }

    #[test]
    fn runs_survive_in_the_section_and_compare() {
        let text = section(&[run("aaa", 2500.0)]);
        assert!(
            text.contains("| 5 | selector-flood | **20 → 700** | 110 % | **2500** | **yes: node01 → node02** |"),
            "{text}"
        );
        assert!(text.contains("| 5 | selector-flood | 10 \\| subscriptions |"), "{text}");
        assert!(text.contains("1 new `panicked` line(s)"), "{text}");
        let comment = text.lines().find(|l| l.starts_with(MARK)).unwrap();
        assert_eq!(comment.find("-->"), Some(comment.len() - 3), "an HTML comment must not end early: {comment}");
        let stored = stored_runs(&text);
        assert_eq!(stored, vec![run("aaa", 2500.0)]);
        let runs = keep(stored, run("bbb", 40.0), false);
        let runs = keep(runs, run("ccc", 30.0), false);
        assert_eq!(runs.iter().map(|r| r.commit.as_str()).collect::<Vec<_>>(), ["aaa", "ccc"]);
        let text = section(&runs);
        assert!(text.contains("### `aaa` → `ccc`"), "{text}");
        assert!(text.contains("| 5 | selector-flood | +680 → +680 | **2500** → 30 |"), "{text}");
        assert_eq!(keep(stored_runs(&text), run("ccc", 1.0), false).len(), 2, "same commit replaces");
        assert_eq!(keep(stored_runs(&text), run("ddd", 1.0), true).len(), 1, "fresh");
    }
}
