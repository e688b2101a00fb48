//! What a supervisor learns of the members another host runs: a ZooKeeper server's mode
//! from `srvr` to its address, a broker's role and position from its console's
//! `/api/status.json` (BASIC auth, the `[console]` user). Both bounded in time and size;
//! a member that does not answer is `down` as far as this host can see.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{Config, Node, ZkServer};
use crate::limits::MAX_STATUS_JSON;
use crate::status::{NodeStatus, Phase, Ports, ProcState, Role, SlaveInfo, ZkMode, ZkStatus};

/// How long one probe may take (a cut host must not stall `mqsim status`).
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// The part of a console's status.json that `mqsim status` shows.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Console {
    role: Option<Role>,
    serving: bool,
    pid: Option<u32>,
    znode: Option<String>,
    session: Option<String>,
    position: Option<i64>,
    master: Option<String>,
    address: Option<String>,
    replication: Option<Phase>,
    #[serde(default)]
    slaves: Vec<SlaveInfo>,
}

/// A ZooKeeper server of another host, as its `srvr` answer shows it.
pub async fn zk(s: &ZkServer) -> ZkStatus {
    let port = *s.client_port.get_ref();
    let reply = crate::zookeeper::four_letter_at(s.host, port, "srvr").await;
    let mode = reply.as_deref().and_then(crate::zookeeper::mode_of).map(ZkMode::from);
    ZkStatus {
        name: s.name.clone(),
        state: if reply.is_some() { ProcState::Running } else { ProcState::Down },
        mode,
        pid: None,
        client_port: port,
        log: String::new(),
        host: Some(s.host.to_string()),
        owned: Some(false),
    }
}

/// A broker of another host, as its console's status.json shows it.
pub async fn node(config: &Config, n: &Node, host: String) -> NodeStatus {
    let addr = SocketAddr::new(config.console_host(n), *n.console.get_ref());
    let auth = crate::web::Credentials::new(&config.console.user, &config.console.password);
    let got =
        crate::web::http_request(addr, "GET", "/api/status.json", Some(&auth), b"", PROBE_TIMEOUT, MAX_STATUS_JSON)
            .await;
    let c: Option<Console> = match got {
        Ok((hyper::StatusCode::OK, _, body)) => serde_json::from_slice(&body).ok(),
        _ => None,
    };
    let answered = c.is_some();
    let c = c.unwrap_or_default();
    NodeStatus {
        name: n.name.clone(),
        state: if answered { ProcState::Running } else { ProcState::Down },
        role: if answered { c.role } else { None },
        pid: c.pid,
        ports: Ports::of(n),
        position: c.position,
        znode: c.znode,
        session: c.session,
        master: c.master,
        address: c.address,
        serving: c.serving,
        replication: c.replication,
        slaves: c.slaves,
        partitioned: None,
        store: None,
        log: String::new(),
        host: Some(host),
        owned: Some(false),
    }
}
