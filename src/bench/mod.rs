//! `mqsim bench`: measurements on real processes, written into docs/benchmarks.md.
//!
//! * [`mod@lifecycle`]: start-up and failover times (`mqsim bench lifecycle`).
//! * [`stomp`]: a STOMP 1.2 load generator (`mqsim bench stomp`) and the side-by-side report
//!   against a real ActiveMQ measured in the same run (`mqsim bench stomp-report`, driven by
//!   `scripts/bench-stomp.sh`).
//! * [`disk`]: the cost of a durable journal append on this disk, alone and contended
//!   (`mqsim bench disk`), which bounds the `*_disk` sync modes; in the same STOMP report.
//! * [`hostile`]: issue 11's attacks against a private cluster, with the master's peak RSS,
//!   an unrelated producer's longest stall and any failover per probe (`mqsim bench hostile`).
//! * [`store`]: the store at scale (issue 12): disk after a million messages, restart and
//!   slave catch-up times, a selective consumer on a deep queue, side by side with a real
//!   ActiveMQ (`mqsim bench store`, driven by `scripts/bench-store.sh`).

pub mod disk;
pub mod hostile;
pub mod lifecycle;
pub mod stomp;
pub mod store;

use std::path::Path;

use crate::error::{Error, Result};
pub use lifecycle::{PROFILES, Profile, Samples, lifecycle, report};

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// `median [min..max] (n)` with `d` decimals.
pub fn mmm(v: &[f64], d: usize) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.d$} [{:.d$}..{:.d$}] ({})", median(v), min, max, v.len())
}

/// Replaces the section between `<!-- begin:NAME -->` and `<!-- end:NAME -->` in `path`.
pub fn write_section(path: &Path, name: &str, body: &str) -> Result<()> {
    let begin = format!("<!-- begin:{name} -->");
    let end = format!("<!-- end:{name} -->");
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let block = format!("{begin}\n{body}{end}");
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(a), Some(b)) if a < b => format!("{}{block}{}", &old[..a], &old[b + end.len()..]),
        _ => format!("{}\n{block}\n", old.trim_end()),
    };
    std::fs::write(path, new).map_err(Error::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_sections() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.md");
        write_section(&p, "x", "one\n").unwrap();
        write_section(&p, "x", "two\n").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("two") && !text.contains("one"), "{text}");
    }
}
