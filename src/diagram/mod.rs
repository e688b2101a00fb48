//! Pictures a teacher can show instead of tables: standalone SVG strings, built by pure
//! functions from what the cluster already records (no I/O here except [`write_chaos_faults`]).
//!
//! * [`topology`] — the cluster now: the ZooKeeper servers (leader/follower/down), the
//!   brokers with their role, which server each broker's ZooKeeper session is on, the
//!   replication links master → slave with their lag, and how many client connections each
//!   broker holds. The dashboard draws it on every poll.
//! * [`sequence`] — one failover as a sequence diagram: lifelines for the supervisor,
//!   ZooKeeper, each broker and the clients; one row per event of `events.jsonl` in time
//!   order, labelled with its offset from the fault (`+1234 ms`). The dashboard serves the
//!   last failover's; `mqsim chaos` writes `fault-<k>.svg` for every fault of a run.
//!
//! Every SVG is a complete XML document (`xmlns`, inline `<style>`, no external reference),
//! so a browser shows it without mqsim running. Every string from the cluster (names from
//! `cluster.toml`, event messages) goes through [`xml`], which escapes markup and drops the
//! characters XML 1.0 forbids, so the output always parses.

pub mod sequence;
pub mod topology;

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::events::Event;

/// Text for an XML attribute or element: `& < > " '` escaped; control characters other
/// than tab/newline (which XML 1.0 forbids even escaped) and U+FFFE/U+FFFF dropped.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Rough width of `s` in pixels at `size` px sans-serif (for boxes around labels).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.58
}

/// The chaos hook: one sequence diagram per fault of a run, `fault-<k>.svg` (k from 1) in
/// `run_dir`. `faults` are the run's `(kind, target)` in order. A file that cannot be
/// written is logged, not fatal (the run's verdict does not depend on its pictures).
/// Returns the files written.
pub fn write_chaos_faults(
    run_dir: &Path,
    events: &[Event],
    faults: impl IntoIterator<Item = (String, String)>,
    config: &Config,
) -> Vec<PathBuf> {
    let faults: Vec<(String, String)> = faults.into_iter().collect();
    let nodes: Vec<String> = config.nodes.iter().map(|n| n.name.clone()).collect();
    let mut written = Vec::new();
    for (k, slice) in sequence::chaos_slices(events, &faults).into_iter().enumerate() {
        let path = run_dir.join(format!("fault-{}.svg", k + 1));
        match std::fs::write(&path, sequence::render(&slice, &nodes)) {
            Ok(()) => written.push(path),
            Err(e) => tracing::warn!("cannot write {}: {e}", path.display()),
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(xml("a<b>&\"c'\u{1}\u{7}\td"), "a&lt;b&gt;&amp;&quot;c&#39; d");
        let doc = format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><text>{}</text></svg>", xml("x\u{0}\u{FFFF}<]]>"));
        roxmltree::Document::parse(&doc).unwrap();
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("节点一二三", 3), "节点…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
