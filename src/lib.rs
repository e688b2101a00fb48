//! mqsim runs a real ActiveMQ-style high-availability cluster on one machine: a supervisor
//! starts a real 3-server ZooKeeper ensemble and three broker nodes, and the brokers elect a
//! master through ZooKeeper exactly the way ActiveMQ's replicated LevelDB store (5.9–5.16)
//! did. Only the master opens its client ports.
//!
//! # Layout
//!
//! Process model: `mqsim up` → one **supervisor** process → ZooKeeper JVMs (`zk01..03`) and
//! broker processes (`mqsim node --name node01..03`). The CLI talks to the supervisor over a
//! Unix socket in the cluster's state directory.
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | `cluster.toml`: schema, defaults, validation with line/column errors |
//! | [`election`] | the election rule as a plain state machine (essay inside) + its ZooKeeper I/O |
//! | [`node`] | one broker process: ZooKeeper session loop, promotion/demotion, client ports |
//! | [`console`] | each node's web console (ActiveMQ's `/admin`, REST `/api/message`), all its life |
//! | [`store`] | the journal (`logSize` log files of CRC-checked records; their end = `position`), the LMDB index (heed) pointing into them, garbage collection, snapshots, resync, the group-commit writer and the `sync` modes it acts on |
//! | [`supervisor`] | owns every process: spawn with PDEATHSIG, signals, control socket, znode monitor, `pids.json` |
//! | [`dashboard`] | the supervisor's cluster dashboard: live status, znodes, timeline (SSE), rate chart, buttons |
//! | [`web`] | the HTTP serving the consoles and the dashboard share: accept loop, auth, Host and cross-site checks, bounded bodies |
//! | [`diagram`] | the pictures: live topology and failover sequence diagrams as standalone SVG (pure) |
//! | [`zookeeper`] | managed ZooKeeper servers: install discovery, `zoo.cfg`, `srvr` probe |
//! | [`control`] | the CLI ↔ supervisor request/response protocol |
//! | [`hosts`] | the multi-host layout: which members run here, the supervisors' token-proved TCP control endpoint |
//! | [`state_dir`] | the state directory's layout: the timeline, the token, run folders, this host's supervisor files |
//! | [`status`] | node status files and the `mqsim status --json` schema |
//! | [`events`] | the cluster timeline (`events.jsonl`) |
//! | [`preflight`] | port checks naming the process that holds a busy port |
//! | [`transport`] | the accept loop STOMP and OpenWire share (maximumConnections) |
//! | [`openwire`] | OpenWire v12 (loose encoding): codec and marshalling (no I/O), the connection handler, temp-destination advisories, OpenWire ↔ message mapping |
//! | [`stomp`] | STOMP 1.0–1.2: frame codec (no I/O) and the connection handler |
//! | [`message`] | the canonical message (`StoredMessage`): header names and their one lookup, typed JMS properties, `Destination` |
//! | [`broker`] | the broker core: queues, topics, durable subscriptions, acks, transactions, DLQ, selectors |
//! | [`replication`] | master → slave journal shipping, acks, sync modes (essay inside) |
//! | [`cli`] | the clap command line; `mqsim config show/hosts` prints cluster.toml as the notes write it (plan, `activemq.xml`, `zoo.cfg`, `/etc/hosts`) |
//! | [`client`] | ActiveMQ `failover:` URLs and a STOMP client that fails over (`mqsim send`/`recv`) |
//! | [`faults`] | partitions in userland: gated proxies in front of ZooKeeper, gated replication connections |
//! | [`chaos`] | `mqsim chaos`: faults under load, a verdict and a run folder |
//! | [`promise`] | what each `sync` mode promises about acknowledged messages; verdicts judged against it |
//! | [`lab`] | `mqsim lab loss`: loses acknowledged messages on purpose, under the configured `sync` |
//! | [`explain`] | `mqsim explain`: what should happen after a fault, and what did |
//! | [`mod@bench`] | `mqsim bench lifecycle` (start-up, failover) and `mqsim bench stomp` (STOMP load vs a real ActiveMQ) |
//! | [`limits`] | every bound on names, sizes and counts a client or peer may send, in one place |
//! | [`auth`] | client credentials (`[[user]]`, ActiveMQ's simpleAuthenticationPlugin) |
//! | [`error`] | the one error enum |
//!
//! # Which way the imports run
//!
//! A client's message travels **socket → codec → message → broker → store → replication**:
//! [`transport`] accepts the connection; the codecs ([`stomp::frame`], [`openwire::codec`] and
//! [`openwire::marshal`]) frame and unmarshal it; the protocol adapters ([`stomp::server`],
//! [`openwire::conn`] with [`openwire::convert`], and the console's REST API and send form)
//! turn it into the canonical [`message::StoredMessage`]; the [`broker`] queues, selects and
//! dispatches it; the [`store`] journals it; [`replication`] ships the journal to the slaves.
//!
//! Imports point one way, from the socket end down, and never back up (the shared utilities,
//! [`error`], [`limits`], [`config`], [`events`], are below them all):
//!
//! | layer | may import | never imports |
//! |---|---|---|
//! | adapters: [`stomp`], [`openwire`], [`console`] | `transport`, `broker`, `message` | each other |
//! | [`broker`], [`replication`] | `store`, `message` (the broker); `store` (replication) | an adapter or codec |
//! | [`store`] | `message` (the type it journals) | `broker`, an adapter or codec |
//! | [`message`] | nothing of the crate | anything above it |
//!
//! `message` is at the bottom of the imports although it is early on the path: it is the
//! vocabulary every later stage speaks, so it depends on none of them. `tests::layering`
//! checks the table.
//!
//! The tutorial (`docs/tutorial.en.md`, `docs/tutorial.zh.md`) follows the notes step by step;
//! `tests/tutorial.rs` runs every command in it and compares the output.

pub mod auth;
pub mod bench;
pub mod broker;
pub mod chaos;
pub mod cli;
pub mod client;
pub mod config;
pub mod console;
pub mod control;
pub mod dashboard;
pub mod diagram;
pub mod election;
pub mod error;
pub mod events;
pub mod explain;
pub mod faults;
#[doc(hidden)]
pub mod fuzzing;
pub mod hosts;
pub mod lab;
pub mod limits;
pub mod logging;
pub mod message;
pub mod node;
pub mod openwire;
pub mod preflight;
pub mod promise;
pub mod replication;
pub mod state_dir;
pub mod status;
pub mod stomp;
pub mod store;
pub mod supervisor;
pub mod transport;
pub mod web;
pub mod zookeeper;

pub use config::Config;
pub use error::{Error, Result};

#[cfg(test)]
mod tests {
    /// The module names a source file imports (`crate::<name>` outside comments).
    fn imports(path: &std::path::Path) -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        let mut names = Vec::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                names.push(name);
            }
        }
        names
    }

    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if dir.is_file() {
            return out.push(dir.to_path_buf());
        }
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The import table of the crate docs: no module imports one above it.
    #[test]
    fn layering() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let adapters = ["stomp", "openwire", "console", "transport", "web"];
        let rules: [(&str, &[&str]); 6] = [
            ("message", &["broker", "store", "replication", "stomp", "openwire", "console", "transport", "web"]),
            ("store", &["broker", "stomp", "openwire", "console", "transport", "web"]),
            ("broker", &adapters),
            ("replication", &["broker", "stomp", "openwire", "console", "web"]),
            ("stomp", &["openwire", "console"]),
            ("openwire", &["stomp", "console"]),
        ];
        let mut wrong = Vec::new();
        for (module, forbidden) in rules {
            let mut paths = Vec::new();
            for p in [src.join(module), src.join(format!("{module}.rs"))] {
                if p.exists() {
                    files(&p, &mut paths);
                }
            }
            assert!(!paths.is_empty(), "no source for {module}");
            for path in paths {
                for name in imports(&path) {
                    if forbidden.contains(&name.as_str()) {
                        wrong.push(format!("{} imports crate::{name}", path.display()));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.join("\n"));
    }
}
