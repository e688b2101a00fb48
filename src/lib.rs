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
//! | [`diagram`] | the pictures: live topology and failover sequence diagrams as standalone SVG (pure) |
//! | [`zookeeper`] | managed ZooKeeper servers: install discovery, `zoo.cfg`, `srvr` probe |
//! | [`control`] | the CLI ↔ supervisor request/response protocol |
//! | [`hosts`] | the multi-host layout: which members run here, the supervisors' token-proved TCP control endpoint |
//! | [`status`] | node status files and the `mqsim status --json` schema |
//! | [`events`] | the cluster timeline (`events.jsonl`) |
//! | [`preflight`] | port checks naming the process that holds a busy port |
//! | [`transport`] | the accept loop STOMP and OpenWire share (maximumConnections) |
//! | [`openwire`] | OpenWire v12 (loose encoding): codec and marshalling (no I/O), the connection handler, temp-destination advisories |
//! | [`stomp`] | STOMP 1.0–1.2: frame codec (no I/O) and the connection handler |
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
pub mod node;
pub mod openwire;
pub mod preflight;
pub mod promise;
pub mod replication;
pub mod status;
pub mod stomp;
pub mod store;
pub mod supervisor;
pub mod transport;
pub mod zookeeper;

pub use config::Config;
pub use error::{Error, Result};
