//! `<stateDir>/pids.json`: the supervisor's PID and each child's, by process name. The
//! supervisor writes it on every start and exit of a child; `up` (stray children of a
//! supervisor killed with -9), `down --purge` (refuse while one runs), the hostile bench and
//! the tests read it back with [`Pids::read`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The file is a few hundred bytes; anything larger is not ours.
const MAX_PIDS_FILE: u64 = 1 << 20;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    pub supervisor: u32,
    /// `zk01` → 4242, `node02` → 4250: the children running now.
    pub children: BTreeMap<String, u32>,
}

impl Pids {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(crate::state_dir::PIDS)
    }

    /// The recorded PIDs, or `None` when there is no (readable, sane) file.
    pub fn read(state_dir: &Path) -> Option<Pids> {
        let path = Pids::path(state_dir);
        if std::fs::metadata(&path).ok()?.len() > MAX_PIDS_FILE {
            return None;
        }
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        std::fs::write(Pids::path(state_dir), serde_json::to_string(self).expect("pids serialize"))
    }

    /// The supervisor first, then every child.
    pub fn all(&self) -> Vec<u32> {
        std::iter::once(self.supervisor).chain(self.children.values().copied()).collect()
    }

    /// Whether `pid` is alive (not a zombie) and still runs one of `config`'s cluster's
    /// commands: PIDs are reused, so a recorded number alone proves nothing.
    pub fn runs_this_cluster(config: &Config, pid: u32) -> bool {
        let Ok(p) =
            i32::try_from(pid).map_err(|_| ()).and_then(|pid| procfs::process::Process::new(pid).map_err(|_| ()))
        else {
            return false;
        };
        if p.stat().is_ok_and(|s| s.state == 'Z') {
            return false;
        }
        let cmd = p.cmdline().unwrap_or_default().join(" ");
        let needles = [config.state_dir().display().to_string(), config.source.display().to_string()];
        needles.iter().any(|n| cmd.contains(n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file keeps the shape the supervisor always wrote (`{"supervisor":..,"children":{..}}`).
    #[test]
    fn the_file_keeps_its_json_shape() {
        let dir = tempfile::tempdir().unwrap();
        let pids = Pids { supervisor: 7, children: [("node01".to_string(), 9), ("zk01".to_string(), 8)].into() };
        pids.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(Pids::path(dir.path())).unwrap();
        assert_eq!(text, r#"{"supervisor":7,"children":{"node01":9,"zk01":8}}"#);
        assert_eq!(Pids::read(dir.path()), Some(pids.clone()));
        assert_eq!(pids.all(), vec![7, 9, 8]);
        std::fs::write(Pids::path(dir.path()), "not json").unwrap();
        assert_eq!(Pids::read(dir.path()), None);
    }
}
