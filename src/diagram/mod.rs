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
//! Every SVG is a complete XML document (`xmlns`, no external reference), so a browser shows
//! it without mqsim running. Looks are SVG presentation attributes (`fill`, `stroke`, …)
//! that [`inline_styles`] adds after each `class="dg-…"`, not a `<style>` element: the
//! dashboard's Content-Security-Policy (`style-src 'self'`) would drop an inline style sheet,
//! and attributes also survive image converters. Every string from the cluster (names from
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

/// What each `dg-` class looks like, as presentation attributes.
const LOOKS: &[(&str, &str)] = &[
    ("dg-t", r##"font-size="13" fill="#1d2733""##),
    ("dg-label", r##"font-size="12" fill="#1d2733""##),
    ("dg-s", r##"font-size="11" fill="#5b6570""##),
    ("dg-mono", r##"font-size="11" font-family="monospace" fill="#5b6570""##),
    ("dg-h", r##"font-size="15" font-weight="bold" fill="#1d2733""##),
    ("dg-sub", r##"font-size="13" fill="#1d2733""##),
    ("dg-foot", r##"font-size="12" fill="#8a4b00""##),
    ("dg-cut", r##"font-size="11" font-weight="bold" fill="#c62828""##),
    ("dg-box", r##"fill="#ffffff" stroke="#8a96a3" stroke-width="1.5""##),
    ("dg-leader", r##"fill="#e3f1ff" stroke="#1769c2" stroke-width="2.5""##),
    ("dg-follower", r##"fill="#f4f8fc" stroke="#6f8fb0" stroke-width="1.5""##),
    ("dg-down", r##"fill="#f3f3f3" stroke="#b0b0b0" stroke-width="1.5" stroke-dasharray="5 4""##),
    ("dg-paused", r##"fill="#fff6e0" stroke="#c58a00" stroke-width="1.5" stroke-dasharray="5 4""##),
    ("dg-master", r##"fill="#e4f6e8" stroke="#1f8a3b" stroke-width="3""##),
    ("dg-slave", r##"fill="#f5f7ff" stroke="#5863b8" stroke-width="1.5""##),
    ("dg-electing", r##"fill="#fffbe6" stroke="#c5a100" stroke-width="1.5""##),
    ("dg-starting", r##"fill="#fffbe6" stroke="#c5a100" stroke-width="1.5""##),
    ("dg-sess", r##"stroke="#7b8794" stroke-width="1.2" stroke-dasharray="3 3""##),
    ("dg-repl", r##"fill="none" stroke="#5863b8" stroke-width="2""##),
    ("dg-client", r##"stroke="#1f8a3b" stroke-width="2""##),
    ("dg-head", r##"fill="#eef2f6" stroke="#8a96a3" stroke-width="1""##),
    ("dg-life", r##"stroke="#b8c2cc" stroke-width="1" stroke-dasharray="4 4""##),
    ("dg-arrow", r##"stroke="#44515e" stroke-width="1.4""##),
    ("dg-arrow-strong", r##"stroke="#c62828" stroke-width="2.2""##),
    ("dg-note", r##"fill="#fffbe6" stroke="#c5a100" stroke-width="1""##),
    ("dg-note-strong", r##"fill="#e4f6e8" stroke="#1f8a3b" stroke-width="2""##),
];

/// Adds the presentation attributes of `LOOKS` after every `class="dg-…"` naming exactly
/// one known class (the markup is ours: class values never come from the cluster).
pub fn inline_styles(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len() * 2);
    let mut rest = svg;
    while let Some(i) = rest.find("class=\"") {
        let start = i + "class=\"".len();
        let Some(len) = rest[start..].find('"') else { break };
        let name = &rest[start..start + len];
        out.push_str(&rest[..start + len + 1]);
        if let Some((_, looks)) = LOOKS.iter().find(|(n, _)| *n == name) {
            out.push(' ');
            out.push_str(looks);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
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
    fn looks_are_attributes_not_a_style_sheet() {
        let svg =
            inline_styles("<g class=\"dg-ev dg-strong\"><rect class=\"dg-master\"/><text class=\"dg-t\">x</text></g>");
        assert_eq!(
            svg,
            "<g class=\"dg-ev dg-strong\"><rect class=\"dg-master\" fill=\"#e4f6e8\" stroke=\"#1f8a3b\" stroke-width=\"3\"/>\
             <text class=\"dg-t\" font-size=\"13\" fill=\"#1d2733\">x</text></g>"
        );
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("节点一二三", 3), "节点…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
