//! The election group in ZooKeeper: register, read members, publish state.
//!
//! Znodes are created the Fuse-fabric way ActiveMQ inherited: `create("<zkPath>/0",
//! EPHEMERAL_SEQUENTIAL)` yields `<zkPath>/00000000007`; only children matching `0\d+`
//! are members. Data is the [`NodeState`] JSON, written with the last known version.
//!
//! # ACLs
//!
//! With `zkPassword` set, the session authenticates as `digest` `fabric:<password>` (as
//! ActiveMQ did) and every znode mqsim creates — the `zkPath` parents it has to create and
//! every member znode — gets [`acls`]: the authenticated creator (`auth` scheme: whoever
//! logs in with the same password) may do everything, `world:anyone` may only read. So a
//! process without the password can still `get` and watch the group (`zkCli get` shows
//! `elected`; the supervisor's monitor, the dashboard and `mqsim zk` only read) but can
//! neither rewrite a member's `address` nor add a fake member. A `zkPath` that already exists
//! with an open ACL (created by an older mqsim) is tightened the same way; parents that
//! someone else created keep theirs. Real ActiveMQ logged in with the password but created
//! every znode `world:anyone:cdrwa`, so the password protected nothing.
//!
//! Without `zkPassword` the znodes stay open (`world:anyone:cdrwa`), with a warning.
//!
//! # A thread of its own
//!
//! Every session (and the node's gated ZooKeeper proxies, see `node::Node::zk_proxies`)
//! runs on [`session_runtime`], one OS thread that nothing else uses. The broker's work runs
//! on the node's main runtime, whose two workers a burst of costly work (or a lock held too
//! long) could keep busy past the session timeout; if the pings shared those workers, one
//! client could cost the master its session and force a failover (issue 11, row 5). A master
//! whose own runtime is stalled keeps its session but cannot renew its lease
//! (`election::lease`), so it stops acknowledging: the safe direction.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zookeeper_client as zk;

use super::{Member, NodeState, eid_of};
use crate::error::{Error, Result};

/// Connects to the ensemble (the caller retries: ZooKeeper may still be starting).
/// `password` adds ActiveMQ's `digest` credential `fabric:<password>`.
pub async fn connect(servers: &str, session_timeout: Duration, password: Option<&str>) -> Result<zk::Client> {
    let mut connector = zk::Client::connector().with_session_timeout(session_timeout);
    if let Some(pw) = password {
        connector = connector.with_auth("digest", format!("fabric:{pw}").as_bytes());
    }
    let servers = servers.to_owned();
    // The client's session task is spawned on the runtime it connects from.
    session_runtime()
        .spawn(async move { connector.connect(&servers).await })
        .await
        .map_err(|e| Error::Other(format!("ZooKeeper session task: {e}")))?
        .map_err(Error::from)
}

/// The runtime ZooKeeper sessions run on: one thread of its own (see the module docs).
pub fn session_runtime() -> tokio::runtime::Handle {
    static SESSIONS: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    SESSIONS
        .get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the ZooKeeper session runtime");
            let handle = rt.handle().clone();
            std::thread::Builder::new()
                .name("zk-session".into())
                .spawn(move || rt.block_on(std::future::pending::<()>()))
                .expect("the ZooKeeper session thread");
            handle
        })
        .clone()
}

/// The ACL for every znode mqsim creates: creator all, anyone read; open without a password.
pub fn acls(authenticated: bool) -> Vec<zk::Acl> {
    if authenticated {
        vec![
            zk::Acl::new(zk::Permission::ALL, zk::AuthId::authed()),
            zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone()),
        ]
    } else {
        zk::Acls::anyone_all().to_vec()
    }
}

/// Whether an ACL lets someone without the password do more than read.
fn open_to_anyone(acl: &[zk::Acl]) -> bool {
    acl.iter().any(|a| a.scheme() == "world" && a.permission() != zk::Permission::READ)
}

/// One node's membership in the group.
pub struct Group {
    client: zk::Client,
    zk_path: String,
    /// The session authenticated with `zkPassword`: create znodes with [`acls`]`(true)`.
    authenticated: bool,
    /// Full path of my znode, once registered.
    my_path: Option<String>,
    version: i32,
}

impl Group {
    /// `authenticated`: the client was connected with a `zkPassword`.
    pub fn new(client: zk::Client, zk_path: &str, authenticated: bool) -> Group {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !authenticated && !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "no zkPassword: the election znodes are created world-writable; any process that reaches \
                 ZooKeeper can rewrite the master's address or fake a member"
            );
        }
        Group { client, zk_path: zk_path.to_string(), authenticated, my_path: None, version: 0 }
    }

    pub fn client(&self) -> &zk::Client {
        &self.client
    }

    pub fn my_path(&self) -> Option<&str> {
        self.my_path.as_deref()
    }

    /// Creates `<zkPath>` (persistent, with parents) and my ephemeral-sequential member.
    /// Returns my eid.
    pub async fn register(&mut self, state: &NodeState) -> Result<String> {
        let acls = acls(self.authenticated);
        let dir = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acls));
        self.client.mkdir(&self.zk_path, &dir).await?;
        if self.authenticated {
            let (acl, stat) = self.client.get_acl(&self.zk_path).await?;
            if open_to_anyone(&acl) {
                tracing::warn!("{} was world-writable; restricting it to zkPassword holders", self.zk_path);
                self.client.set_acl(&self.zk_path, &acls, Some(stat.aversion)).await?;
            }
        }
        let eseq = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::new(&acls));
        let data = serde_json::to_vec(state)?;
        let prefix = format!("{}/0", self.zk_path);
        let (stat, seq) = self.client.create(&prefix, &data, &eseq).await?;
        let path = format!("{prefix}{seq}");
        self.version = stat.version;
        self.my_path = Some(path);
        Ok(seq.to_string())
    }

    /// All members, oldest first.
    pub async fn members(&self) -> Result<Vec<Member>> {
        Ok(read_members(&self.client, &self.zk_path)
            .await?
            .into_iter()
            .filter_map(|(name, data, _)| {
                let state = serde_json::from_slice(&data).ok()?;
                Some(Member { eid: eid_of(&name)?, state })
            })
            .collect())
    }

    /// Writes my state. If my znode vanished (session expiry), registers again and returns
    /// the new eid.
    pub async fn publish(&mut self, state: &NodeState) -> Result<Option<String>> {
        let path = self.my_path.clone().ok_or_else(|| Error::Other("publish before register".into()))?;
        let data = serde_json::to_vec(state)?;
        match self.client.set_data(&path, &data, Some(self.version)).await {
            Ok(stat) => {
                self.version = stat.version;
                Ok(None)
            }
            Err(zk::Error::NoNode) => Ok(Some(self.register(state).await?)),
            Err(zk::Error::BadVersion) => {
                // A write whose reply was lost in a disconnect still happened: only this node
                // writes its znode, so re-read the version and write again.
                match self.client.check_stat(&path).await? {
                    Some(stat) => {
                        self.version = self.client.set_data(&path, &data, Some(stat.version)).await?.version;
                        Ok(None)
                    }
                    None => Ok(Some(self.register(state).await?)),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Children of `path` that are members (`0\d+`), oldest first, with data and stat.
/// Children deleted between the listing and the read are skipped.
pub async fn read_members(client: &zk::Client, path: &str) -> Result<Vec<(String, Vec<u8>, zk::Stat)>> {
    let mut names = match client.list_children(path).await {
        Ok(n) => n,
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    names.retain(|n| eid_of(n).is_some());
    names.sort_by_key(|n| eid_of(n).and_then(|e| e.parse::<u64>().ok()));
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match client.get_data(&format!("{path}/{name}")).await {
            Ok((data, stat)) => out.push((name, data, stat)),
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
