//! `sync`: when the master acknowledges a write, as ActiveMQ's bit mask (`local_disk`,
//! `quorum_mem`, ...). The writer ([`super::writer`]) acts on it; `cluster.toml` names it
//! (`crate::config` re-exports it).

use serde::Serialize;

/// The `sync` attribute as ActiveMQ's bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SyncMode {
    /// fsync the local journal before acknowledging.
    pub local_disk: bool,
    /// Wait for `replicas/2` slave acks.
    pub remote: bool,
    /// Slaves msync before acking.
    pub remote_disk: bool,
}

impl SyncMode {
    pub const TOKENS: [&'static str; 6] =
        ["local_mem", "local_disk", "remote_mem", "remote_disk", "quorum_mem", "quorum_disk"];

    pub fn parse(s: &str) -> std::result::Result<SyncMode, String> {
        let mut m = SyncMode::default();
        for token in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match token {
                "local_mem" => {}
                "local_disk" => m.local_disk = true,
                "remote_mem" | "quorum_mem" => m.remote = true,
                "remote_disk" => (m.remote, m.remote_disk) = (true, true),
                "quorum_disk" => (m.remote, m.remote_disk, m.local_disk) = (true, true, true),
                other => {
                    return Err(format!(
                        "unknown sync token `{other}`; use one or more of {}",
                        SyncMode::TOKENS.join(", ")
                    ));
                }
            }
        }
        Ok(m)
    }
}
