//! The two facts the topology picture needs that `mqsim status` does not carry, read cheaply
//! on each poll:
//!
//! * which ZooKeeper server each broker's session is connected to: every managed server is
//!   asked `cons` (whitelisted in the generated `zoo.cfg`), whose lines carry `sid=0x…`;
//!   a session id found on a server is on that server. A server that does not answer (down,
//!   paused, external) contributes nothing, so such sessions stay "not known";
//! * how many clients each broker holds: the established TCP connections whose local port
//!   is the broker's STOMP or OpenWire port, from `/proc/net/tcp` and `/proc/net/tcp6`
//!   (everything runs on this machine, so the kernel's table is the truth).

use std::collections::BTreeMap;

use crate::config::Config;
use crate::status::ClusterStatus;

/// `sid=0x…` values in a `cons` reply.
pub fn sessions_in_cons(reply: &str) -> Vec<String> {
    reply
        .lines()
        .filter_map(|l| l.split_once("sid=0x").map(|(_, rest)| rest))
        .map(|rest| rest.chars().take_while(char::is_ascii_hexdigit).take(16).collect::<String>())
        .filter(|hex| !hex.is_empty())
        .map(|hex| format!("0x{}", hex.to_ascii_lowercase()))
        .collect()
}

/// Session id → ZooKeeper server name, for the managed servers that answer `cons`.
pub async fn zk_sessions(config: &Config) -> BTreeMap<String, String> {
    if config.zookeeper.connect.is_some() {
        return BTreeMap::new();
    }
    let asks = config.zookeeper.servers.iter().map(|s| async move {
        let reply = crate::zookeeper::four_letter_at(s.host, *s.client_port.get_ref(), "cons").await;
        (s.name.clone(), reply.map(|r| sessions_in_cons(&r)).unwrap_or_default())
    });
    let mut out = BTreeMap::new();
    for (server, sids) in futures::future::join_all(asks).await {
        for sid in sids {
            out.insert(sid, server.clone());
        }
    }
    out
}

/// Broker name → established client connections on its STOMP and OpenWire ports, for the
/// running brokers; empty if `/proc/net` cannot be read.
pub fn client_connections(st: &ClusterStatus) -> BTreeMap<String, usize> {
    let mut ports: Vec<(u16, &str)> = Vec::new();
    for n in st.nodes.iter().filter(|n| n.pid.is_some()) {
        ports.push((n.ports.stomp, &n.name));
        ports.push((n.ports.openwire, &n.name));
    }
    let tables: Vec<_> = [procfs::net::tcp(), procfs::net::tcp6()].into_iter().flatten().collect();
    if tables.is_empty() {
        return BTreeMap::new();
    }
    let mut out: BTreeMap<String, usize> =
        st.nodes.iter().filter(|n| n.pid.is_some()).map(|n| (n.name.clone(), 0)).collect();
    for e in tables.iter().flatten().filter(|e| e.state == procfs::net::TcpState::Established) {
        if let Some((_, name)) = ports.iter().find(|(p, _)| *p == e.local_address.port()) {
            *out.entry(name.to_string()).or_default() += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cons_lines_give_their_session_ids() {
        let reply = " /127.0.0.1:51234[1](queued=0,recved=12,sent=12,sid=0x1000A2b3c0001,lop=PING,est=1,to=2000)\n \
                     /127.0.0.1:51240[0](queued=0,recved=1,sent=0)\n\n";
        assert_eq!(sessions_in_cons(reply), vec!["0x1000a2b3c0001".to_string()]);
        assert!(sessions_in_cons("sid=0xzz\n").is_empty());
    }
}
