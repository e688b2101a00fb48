//! `mqsim down --purge`: after the cluster stopped, delete what it left in its state
//! directory, so the next `mqsim up` starts like the first: empty journals (position 0),
//! a new ZooKeeper ensemble whose znode counter starts again at `00000000000`, an empty
//! timeline and a new replication token.
//!
//! Only the entries this cluster's configuration names are removed (`mq_<node>`, each
//! managed ZooKeeper server's directory, the supervisor's files, `events.jsonl`, `runs/`,
//! the token); anything else in the directory is left and listed, and the directory itself
//! goes only once empty. Nothing is followed out of
//! the state directory: a symbolic link is removed as a link (its target stays), and
//! [`std::fs::remove_dir_all`] does not follow the links inside a directory it removes.
//! Purging refuses while any process of the cluster still runs.

use std::path::{Component, Path};

use crate::config::Config;
use crate::error::{Error, Result};

/// The state directory's entries that belong to this cluster, by name.
pub fn owned_entries(config: &Config) -> Vec<String> {
    // A multi-host layout (crate::hosts): this host's own members and supervisor directory
    // only; the other hosts' may share the directory (an NFS home, network namespaces).
    let here = crate::hosts::Here::of(config);
    if here.partial {
        let mut names = vec![format!("host-{}", here.label)];
        names.extend(config.nodes.iter().filter(|n| here.owns(&n.name)).map(|n| format!("mq_{}", n.name)));
        if config.zookeeper.connect.is_none() {
            names.extend(config.zookeeper.servers.iter().filter(|s| here.owns(&s.name)).map(|s| s.name.clone()));
        }
        return names;
    }
    let mut names: Vec<String> = crate::state_dir::StateDir::ENTRIES.iter().map(|s| s.to_string()).collect();
    names.extend(config.nodes.iter().map(|n| format!("mq_{}", n.name)));
    if config.zookeeper.connect.is_none() {
        names.extend(config.zookeeper.servers.iter().map(|s| s.name.clone()));
    }
    names
}

/// Processes listed in `pids.json` that are alive and still run this cluster's command line.
fn still_running(config: &Config) -> Vec<u32> {
    use crate::supervisor::Pids;
    let pids = Pids::read(&crate::hosts::supervisor_dir(config)).unwrap_or_default();
    pids.all().into_iter().filter(|&pid| pid != 0 && Pids::runs_this_cluster(config, pid)).collect()
}

/// Removes this cluster's entries from its stopped state directory; returns the lines to print.
pub async fn purge(config: &Config) -> Result<Vec<String>> {
    let state_dir = config.state_dir();
    if crate::control::status(&crate::hosts::supervisor_dir(config)).await.is_ok() {
        return Err(Error::InvalidInput(format!(
            "a cluster is still running from {}; not purging (run `mqsim down` first)",
            state_dir.display()
        )));
    }
    let running = still_running(config);
    if !running.is_empty() {
        let list: Vec<String> = running.iter().map(u32::to_string).collect();
        return Err(Error::InvalidInput(format!(
            "processes of this cluster still run (pid {}); not purging {}",
            list.join(", "),
            state_dir.display()
        )));
    }
    let mut lines = Vec::new();
    let owned = owned_entries(config);
    let mut removed = 0;
    if state_dir.is_dir() {
        for name in &owned {
            removed += remove_entry(&state_dir.join(name))? as usize;
        }
        let mut others: Vec<String> = std::fs::read_dir(&state_dir)
            .map_err(Error::io(format!("reading {}", state_dir.display())))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !owned.contains(n))
            .collect();
        others.sort();
        if !others.is_empty() {
            lines.push(format!("left alone (not this cluster's): {}", others.join(", ")));
        }
    }
    // An emptied state directory goes too (a symbolic link to one stays: remove_dir refuses it).
    if state_dir.is_dir() && std::fs::read_dir(&state_dir).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(&state_dir);
    }
    for node in &config.nodes {
        if node.directory.is_absolute() || node.directory.components().any(|c| c == Component::ParentDir) {
            lines.push(format!(
                "left alone: {}'s store directory {} is outside the state directory",
                node.name,
                node.directory.display()
            ));
        }
    }
    if config.zookeeper.connect.is_some() {
        lines.push(
            "the external ZooKeeper ensemble keeps its znodes: the sequence numbers go on from where they are".into(),
        );
    }
    lines.push(format!(
        "purged {}: {removed} entr{} removed (stores, ZooKeeper data, timeline); the next `mqsim up` starts fresh",
        state_dir.display(),
        if removed == 1 { "y" } else { "ies" }
    ));
    Ok(lines)
}

/// Removes one entry without following it: a directory with everything under it (links
/// inside are removed as links), a file, or a symbolic link itself. `false` if absent.
fn remove_entry(path: &Path) -> Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::Io { context: format!("reading {}", path.display()), source: e }),
    };
    if meta.is_dir() {
        std::fs::remove_dir_all(path).map_err(Error::io(format!("removing {}", path.display())))?;
    } else {
        std::fs::remove_file(path).map_err(Error::io(format!("removing {}", path.display())))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On one host of a multi-host layout, the other hosts' members are never purged (they may
    /// share the directory). 198.51.100.x (TEST-NET-2) is no machine's address.
    #[test]
    fn another_hosts_entries_are_not_ours() {
        let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/netns.toml")).unwrap();
        let toml = toml.replace("10.231.0.", "198.51.100.");
        let config = Config::parse(&toml, Path::new("/tmp/x/cluster.toml")).unwrap();
        assert_eq!(owned_entries(&config), vec!["host-none".to_string()]);
    }

    #[tokio::test]
    async fn removes_only_owned_entries_and_never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "x").unwrap();
        let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/cluster.toml")).unwrap();
        std::fs::write(dir.path().join("cluster.toml"), toml).unwrap();
        let config = Config::load(&dir.path().join("cluster.toml")).unwrap();
        let sd = config.state_dir();
        std::fs::create_dir_all(sd.join("mq_node01/activemq-data")).unwrap();
        std::fs::create_dir_all(sd.join("zk01/data/version-2")).unwrap();
        std::fs::write(sd.join("events.jsonl"), "{}").unwrap();
        std::fs::write(sd.join("notes.txt"), "mine").unwrap();
        // Links out of the state directory: as an owned entry, and inside one.
        std::os::unix::fs::symlink(outside.path(), sd.join("runs")).unwrap();
        std::os::unix::fs::symlink(outside.path(), sd.join("mq_node01/activemq-data/link")).unwrap();
        let lines = purge(&config).await.unwrap();
        assert!(outside.path().join("keep").exists(), "a link's target is never touched");
        assert!(!sd.join("mq_node01").exists() && !sd.join("zk01").exists() && !sd.join("events.jsonl").exists());
        assert!(std::fs::symlink_metadata(sd.join("runs")).is_err(), "the link itself is removed");
        assert!(sd.join("notes.txt").exists(), "not this cluster's");
        assert_eq!(lines[0], "left alone (not this cluster's): notes.txt");
        assert!(lines.last().unwrap().contains("4 entries removed"), "{lines:?}");
    }
}
