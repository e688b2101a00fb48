//! What a `sync` mode promises about acknowledged messages, and verdicts judged against it.
//!
//! `cluster.toml`'s `sync` decides when the master answers a persistent send (the RECEIPT):
//!
//! * with the REMOTE bit (`remote_*`, `quorum_*`) only once `replicas/2` slaves have the
//!   write ([`crate::replication`]). Any node may then die and the next master still has it:
//!   **no acknowledged message is lost**.
//! * without it (`local_mem`, `local_disk`) as soon as the master's own journal has it
//!   (`local_disk`: after its fsync). The slaves get it a moment later, or — if the master is
//!   cut off from them or dies first — never. The promise is smaller: **an acknowledged
//!   message survives as long as the master that acknowledged it keeps serving; a failover
//!   may lose the ones no slave had yet.** ActiveMQ lost exactly those.
//!
//! [`judge`] turns a run's counts into a verdict against that promise, for `mqsim chaos` and
//! `mqsim lab loss`. It never excuses two serving masters, errors of the run itself, or (under
//! a local mode) a loss the failover cannot explain: a message acknowledged on the
//! producer's last connection, by the master still serving at the end.

use serde::{Deserialize, Serialize};

use crate::config::SyncMode;

/// A `sync` mode and what it promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promise {
    /// The `sync` value as configured, e.g. `local_disk`.
    pub sync: String,
    /// Acknowledged only once `replicas/2` slaves have the write.
    pub replicated: bool,
    /// The master fsyncs before it acknowledges.
    pub local_disk: bool,
    /// The slaves fsync before they ack.
    pub remote_disk: bool,
    /// `replicas/2`: slave acks a replicated write waits for.
    pub slaves_needed: usize,
}

impl Promise {
    /// The promise of `sync` in a cluster of `replicas` nodes.
    pub fn of(sync: &str, replicas: usize) -> std::result::Result<Promise, String> {
        let m = SyncMode::parse(sync)?;
        Ok(Promise {
            sync: sync.trim().to_string(),
            replicated: m.remote,
            local_disk: m.local_disk,
            remote_disk: m.remote_disk,
            slaves_needed: replicas / 2,
        })
    }

    /// The promise in one sentence.
    pub fn text(&self) -> String {
        if self.replicated {
            "no acknowledged message is lost".to_string()
        } else {
            "an acknowledged message survives while the master that acknowledged it serves; a failover may lose \
             those no slave had yet"
                .to_string()
        }
    }

    /// `sync=local_disk promises: ...`.
    pub fn label(&self) -> String {
        format!("sync={} promises: {}", self.sync, self.text())
    }

    /// When the master answers a persistent send, in this mode.
    pub fn acknowledges(&self) -> String {
        let local = if self.local_disk { "after its own fsync" } else { "once its journal has the write (no fsync)" };
        if self.replicated {
            let slaves = if self.remote_disk { "on disk" } else { "in memory" };
            let own = if self.local_disk { "after its own fsync and " } else { "" };
            format!(
                "the master acknowledges a persistent send {own}only once {} slave(s) have it {slaves} (replicas/2)",
                self.slaves_needed
            )
        } else {
            format!("the master acknowledges a persistent send {local}, without waiting for a slave")
        }
    }
}

/// What a run counted, as far as the promise is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Acknowledged (RECEIPT) and never consumed.
    pub lost: usize,
    /// Of those, the ones acknowledged on the producer's last connection, by the master that
    /// still served at the end: no failover explains them.
    pub lost_without_failover: usize,
    /// Pairs of nodes that served as master at the same time.
    pub overlapping_masters: usize,
    pub acknowledged: usize,
}

/// A run's verdict; on the wire (`chaos --json`, `lab loss --json`) and in text `PASS`, or
/// `FAIL: <reasons>` (the reasons joined by `; `).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Verdict {
    Pass,
    /// The reasons, as one text.
    Fail(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        *self == Verdict::Pass
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Pass => f.write_str("PASS"),
            Verdict::Fail(reasons) => write!(f, "FAIL: {reasons}"),
        }
    }
}

impl From<Verdict> for String {
    fn from(v: Verdict) -> String {
        v.to_string()
    }
}

impl TryFrom<String> for Verdict {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Verdict, String> {
        match s.strip_prefix("FAIL: ") {
            _ if s == "PASS" => Ok(Verdict::Pass),
            Some(reasons) => Ok(Verdict::Fail(reasons.to_string())),
            None => Err(format!("a verdict is `PASS` or `FAIL: <reasons>`, not `{s}`")),
        }
    }
}

/// The outcome: the verdict and what it was judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The promise checked (`sync=... promises: ...`).
    pub promise: String,
    /// Acknowledged messages lost that the mode allows (always 0 under a replicated mode).
    pub lost_allowed_by_sync: usize,
}

impl Judgement {
    pub fn passed(&self) -> bool {
        self.verdict.passed()
    }

    /// `PASS (sync=... promises: ...)`, with the allowed losses if any.
    pub fn line(&self) -> String {
        verdict_line(&self.verdict, &self.promise, self.lost_allowed_by_sync)
    }
}

/// `PASS (sync=... promises: ...)`, for a verdict kept as its parts (a run's summary).
pub fn verdict_line(verdict: &Verdict, promise: &str, lost_allowed_by_sync: usize) -> String {
    let allowed = match lost_allowed_by_sync {
        0 => String::new(),
        1 => "; 1 acknowledged message lost in a failover, as this mode allows".to_string(),
        n => format!("; {n} acknowledged messages lost in failovers, as this mode allows"),
    };
    format!("{verdict} ({promise}{allowed})")
}

/// Judges `counts` against `promise`; `problems` are failures of the run itself (a fault
/// that did not recover, a client that gave up), which fail any mode.
pub fn judge(promise: &Promise, counts: &Counts, mut problems: Vec<String>) -> Judgement {
    let mut allowed = 0;
    if promise.replicated {
        if counts.lost > 0 {
            problems.push(format!("{} acknowledged messages lost", counts.lost));
        }
    } else {
        let unexplained = counts.lost_without_failover.min(counts.lost);
        allowed = counts.lost - unexplained;
        if unexplained > 0 {
            problems.push(format!(
                "{unexplained} acknowledged messages lost without a failover (acknowledged by the master still \
                 serving at the end)"
            ));
        }
    }
    if counts.overlapping_masters > 0 {
        problems.push(format!("{} overlapping serving masters", counts.overlapping_masters));
    }
    if counts.acknowledged == 0 {
        problems.push("no message was acknowledged".into());
    }
    let verdict = if problems.is_empty() { Verdict::Pass } else { Verdict::Fail(problems.join("; ")) };
    Judgement { verdict, promise: promise.label(), lost_allowed_by_sync: allowed }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(lost: usize, without_failover: usize) -> Counts {
        Counts { lost, lost_without_failover: without_failover, overlapping_masters: 0, acknowledged: 100 }
    }

    #[test]
    fn every_token_has_a_promise() {
        for t in SyncMode::TOKENS {
            let p = Promise::of(t, 3).unwrap();
            assert!(p.label().starts_with(&format!("sync={t} promises: ")), "{}", p.label());
            assert_eq!(p.replicated, t.starts_with("remote") || t.starts_with("quorum"), "{t}");
        }
        assert_eq!(
            Promise::of("quorum_mem", 3).unwrap().acknowledges(),
            "the master acknowledges a persistent send only once 1 slave(s) have it in memory (replicas/2)"
        );
        assert!(Promise::of("remote_mem", 5).unwrap().acknowledges().contains("only once 2 slave(s)"));
        assert!(Promise::of("quorum_disk", 3).unwrap().acknowledges().contains("after its own fsync and only once"));
        assert!(
            Promise::of("remote_disk", 3).unwrap().acknowledges().contains("send only once 1 slave(s) have it on disk")
        );
        assert!(Promise::of("local_disk", 3).unwrap().acknowledges().contains("after its own fsync"));
        assert!(Promise::of("fast", 3).is_err());
    }

    #[test]
    fn replicated_modes_fail_on_any_loss() {
        let q = Promise::of("quorum_mem", 3).unwrap();
        let v = judge(&q, &counts(0, 0), vec![]);
        assert!(v.passed());
        assert_eq!(v.line(), "PASS (sync=quorum_mem promises: no acknowledged message is lost)");
        let v = judge(&q, &counts(3, 0), vec![]);
        assert_eq!(v.verdict, Verdict::Fail("3 acknowledged messages lost".into()));
        assert_eq!(v.lost_allowed_by_sync, 0);
        assert!(!judge(&Promise::of("remote_disk", 3).unwrap(), &counts(1, 1), vec![]).passed());
    }

    #[test]
    fn local_modes_allow_losses_a_failover_explains() {
        for sync in ["local_disk", "local_mem"] {
            let p = Promise::of(sync, 3).unwrap();
            let v = judge(&p, &counts(5, 0), vec![]);
            assert!(v.passed(), "{v:?}");
            assert_eq!(v.lost_allowed_by_sync, 5);
            assert!(v.line().starts_with(&format!("PASS (sync={sync} promises: an acknowledged message survives")));
            assert!(v.line().ends_with("; 5 acknowledged messages lost in failovers, as this mode allows)"));
            // What the master still serving acknowledged must be there.
            let v = judge(&p, &counts(5, 2), vec![]);
            assert!(
                v.verdict.to_string().starts_with("FAIL: 2 acknowledged messages lost without a failover"),
                "{v:?}"
            );
            assert_eq!(v.lost_allowed_by_sync, 3);
        }
    }

    #[test]
    fn some_things_fail_every_mode() {
        for sync in SyncMode::TOKENS {
            let p = Promise::of(sync, 3).unwrap();
            let two = Counts { overlapping_masters: 1, ..counts(0, 0) };
            assert_eq!(judge(&p, &two, vec![]).verdict, Verdict::Fail("1 overlapping serving masters".into()));
            let none = Counts { acknowledged: 0, ..counts(0, 0) };
            assert_eq!(judge(&p, &none, vec![]).verdict, Verdict::Fail("no message was acknowledged".into()));
            let v = judge(&p, &counts(0, 0), vec!["producer: gave up".into()]);
            assert_eq!(v.verdict, Verdict::Fail("producer: gave up".into()));
        }
    }

    /// The verdict's JSON is the text `PASS` or `FAIL: <reasons>` (docs/cli.md), both ways.
    #[test]
    fn a_verdict_is_pass_or_fail_with_reasons_on_the_wire() {
        let fail = Verdict::Fail("1 overlapping serving masters; producer: gave up".into());
        assert_eq!(serde_json::to_string(&Verdict::Pass).unwrap(), r#""PASS""#);
        assert_eq!(
            serde_json::to_string(&fail).unwrap(),
            r#""FAIL: 1 overlapping serving masters; producer: gave up""#
        );
        for v in [Verdict::Pass, fail] {
            assert_eq!(serde_json::from_str::<Verdict>(&serde_json::to_string(&v).unwrap()).unwrap(), v);
        }
        assert!(serde_json::from_str::<Verdict>(r#""pass""#).is_err());
        assert!(serde_json::from_str::<Verdict>(r#""FAILED""#).is_err());
        let doc = include_str!("../docs/cli.md");
        assert!(doc.contains("`verdict` is `PASS` or `FAIL: <reasons>`"), "docs/cli.md documents the spelling");
    }
}
