//! Watches the election path and puts znode deletions, with their cause, on the timeline.
//!
//! The brokers log their own decisions (registered, elected, promoted, slave); what only an
//! outside observer can tell is *why* a member vanished: a clean stop closes the session at
//! once, a `kill -9` or a pause leaves the znode until the session expires. The monitor
//! diffs successive reads of the group, so an event lost while disconnected
//! (ZOOKEEPER-4698) still shows up at the next read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zookeeper_client as zk;

use super::{Kind, Shared};
use crate::control::Verb;
use crate::election::zookeeper::{connect, read_members};
use crate::events::EventKind;
use crate::node::NodeLayout;
use crate::status::NodeReport;

pub(super) async fn run(sup: Arc<Shared>) {
    let cfg = &sup.config;
    let mut known: BTreeMap<String, String> = BTreeMap::new(); // znode path -> node name (or "?")
    loop {
        let client = match connect(
            &cfg.zk_connect(),
            cfg.cluster.zk_session_timeout,
            cfg.cluster.zk_password.as_deref(),
        )
        .await
        {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Ok(mut watcher) = client.watch(&cfg.cluster.zk_path, zk::AddWatchMode::PersistentRecursive).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        loop {
            let read =
                tokio::time::timeout(cfg.cluster.zk_session_timeout, read_members(&client, &cfg.cluster.zk_path)).await;
            if let Ok(Ok(members)) = read {
                let now: BTreeMap<String, ()> =
                    members.into_iter().map(|(name, _, _)| (format!("{}/{name}", cfg.cluster.zk_path), ())).collect();
                for path in known.keys().filter(|p| !now.contains_key(*p)).cloned().collect::<Vec<_>>() {
                    let owner = known.remove(&path).unwrap_or_default();
                    // Multi-host: the owner's host's supervisor knows the cause and says it.
                    if sup.here.partial && !sup.here.owns(&owner) {
                        continue;
                    }
                    sup.events.emit_about(
                        EventKind::ZnodeDeleted,
                        &owner,
                        format!("znode {path} ({owner}) deleted: {}", cause(&sup, &owner)),
                    );
                }
                for path in now.keys() {
                    if !known.contains_key(path) || known[path] == "?" {
                        known.insert(path.clone(), owner_of(&sup, path));
                    }
                }
            }
            // Re-read on every event, and at least twice a second (watch events can be lost).
            let ev = tokio::time::timeout(Duration::from_millis(500), watcher.changed()).await;
            match ev {
                Ok(ev) if ev.event_type == zk::EventType::Session && ev.session_state.is_terminated() => {
                    break;
                }
                Ok(ev)
                    if ev.event_type == zk::EventType::Session
                        && ev.session_state == zk::SessionState::SyncConnected =>
                {
                    if let Ok(w) = client.watch(&cfg.cluster.zk_path, zk::AddWatchMode::PersistentRecursive).await {
                        watcher = w;
                    }
                }
                _ => {}
            }
        }
    }
}

/// Which node registered `path`, from the nodes' status files.
fn owner_of(sup: &Shared, path: &str) -> String {
    sup.config
        .nodes
        .iter()
        .find(|n| {
            NodeReport::read(&NodeLayout::new(&sup.config, &n.name).status).and_then(|r| r.znode).as_deref()
                == Some(path)
        })
        .map_or_else(|| "?".to_string(), |n| n.name.clone())
}

fn cause(sup: &Shared, owner: &str) -> String {
    let procs = sup.procs.lock().unwrap();
    let Some(p) = procs.get(owner).filter(|p| p.kind == Kind::Node) else {
        return "its session ended".into();
    };
    let ago = |t: Instant| format!("{:.1} s", t.elapsed().as_secs_f64());
    match (p.requested, p.pid) {
        (Some((Verb::Kill, t)), _) => {
            format!("its ZooKeeper session expired {} after the kill", ago(t))
        }
        (Some((Verb::Stop | Verb::Restart, t)), _) => {
            format!("{owner} closed its session on a clean stop ({} ago)", ago(t))
        }
        (_, Some(pid)) if super::process::paused(pid) => {
            "its ZooKeeper session expired while the node was paused".into()
        }
        (_, Some(_)) => {
            format!("{owner} left the group (stepped down or its session expired) and re-registers")
        }
        (_, None) => "its ZooKeeper session expired after the process died".into(),
    }
}
