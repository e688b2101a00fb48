//! The election znodes, read the way `zkCli.sh get` shows them: path and raw data.

use std::time::{Duration, Instant};

use serde::Serialize;
use zookeeper_client as zk;

use crate::config::Config;
use crate::election::zookeeper::{connect, read_members};

/// One member znode of the election group.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Znode {
    /// `/activemq/leveldb-stores/00000000001`.
    pub path: String,
    /// The data exactly as stored (the broker's JSON), as `zkCli get` prints it.
    pub data: String,
    /// The ZooKeeper session that owns the ephemeral node, `0x...`.
    pub ephemeral_owner: String,
}

/// Keeps one ZooKeeper session for the dashboard; reconnects after a failure.
pub struct ZnodeReader {
    connect: String,
    session_timeout: Duration,
    password: Option<String>,
    path: String,
    state: tokio::sync::Mutex<ReaderState>,
}

#[derive(Default)]
struct ReaderState {
    client: Option<zk::Client>,
    last: Option<(Instant, Result<Vec<Znode>, String>)>,
}

/// Several pages polling at once share one read per this interval.
const CACHE: Duration = Duration::from_millis(400);
const LIMIT: Duration = Duration::from_secs(2);

impl ZnodeReader {
    pub fn new(config: &Config) -> ZnodeReader {
        ZnodeReader {
            connect: config.zk_connect(),
            session_timeout: config.cluster.zk_session_timeout,
            password: config.cluster.zk_password.clone(),
            path: config.cluster.zk_path.clone(),
            state: tokio::sync::Mutex::new(ReaderState::default()),
        }
    }

    pub async fn read(&self) -> Result<Vec<Znode>, String> {
        let mut st = self.state.lock().await;
        if let Some((at, r)) = &st.last
            && at.elapsed() < CACHE
        {
            return r.clone();
        }
        let r = self.read_now(&mut st).await;
        if r.is_err() {
            st.client = None;
        }
        st.last = Some((Instant::now(), r.clone()));
        r
    }

    async fn read_now(&self, st: &mut ReaderState) -> Result<Vec<Znode>, String> {
        if st.client.is_none() {
            let c = tokio::time::timeout(LIMIT, connect(&self.connect, self.session_timeout, self.password.as_deref()))
                .await
                .map_err(|_| format!("ZooKeeper {} did not answer", self.connect))?
                .map_err(|e| format!("ZooKeeper {}: {e}", self.connect))?;
            st.client = Some(c);
        }
        let client = st.client.as_ref().expect("connected above");
        let members = tokio::time::timeout(LIMIT, read_members(client, &self.path))
            .await
            .map_err(|_| "reading the election znodes timed out".to_string())?
            .map_err(|e| format!("reading {}: {e}", self.path))?;
        Ok(members
            .into_iter()
            .map(|(name, data, stat)| Znode {
                path: format!("{}/{name}", self.path),
                data: String::from_utf8_lossy(&data).into_owned(),
                ephemeral_owner: format!("{:#x}", stat.ephemeral_owner),
            })
            .collect())
    }
}
