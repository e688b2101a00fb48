//! The client side: ActiveMQ connection URLs and a STOMP 1.2 client with failover.
//!
//! # What failover does
//!
//! A master/slave cluster has exactly one broker with open client ports; the slaves refuse
//! TCP connections. A client therefore lists *every* broker, ActiveMQ-style:
//! `failover:(tcp://127.0.0.1:61613,tcp://127.0.0.1:61623,tcp://127.0.0.1:61633)?randomize=false`
//! ([`url`]). Connecting is a *pass* over that list: a refused connection (a slave, or a
//! dead node) or an `ERROR` answer to `CONNECT` just moves on to the next URI, so the pass
//! ends at the master. A failed pass is followed by a back-off sleep (10, 20, 40, ... ms up
//! to `maxReconnectDelay`) and another pass, until `maxReconnectAttempts` passes have failed
//! (`-1`, the default, means forever; before the first success `startupMaxReconnectAttempts`
//! applies instead).
//!
//! When a working connection drops — the master was killed, stopped or demoted — the
//! [`stomp::StompClient`] reconnects the same way (the URI that just failed is tried last,
//! as ActiveMQ does), re-issues its subscriptions, and carries on with the operation that
//! was interrupted: a `send` still waiting for its `RECEIPT` sends the very same frame
//! again, and a `recv` keeps waiting on the new connection. Each reconnect is recorded so
//! tools can print how long the outage lasted.
//!
//! # Caveats
//!
//! * **Duplicates.** A send whose RECEIPT was lost may well have been stored by the old
//!   master and replicated before it died; the resend then creates a second copy. ActiveMQ's
//!   OpenWire clients avoid this with producer sequence ids the broker remembers; STOMP has
//!   no such mechanism, so STOMP consumers must expect (and `mqsim recv` counts) duplicates.
//! * **Loss** is the opposite risk: a message acknowledged by a RECEIPT is only as safe as
//!   the broker's replication (`sync` in `cluster.toml`) made it before the failover.
//! * **Redelivery.** Messages delivered but not yet acknowledged when the connection drops
//!   are redelivered by the new master; an ACK for such a message cannot be sent on the new
//!   connection (the broker would not know its ack id), so [`stomp::StompClient::ack`]
//!   drops it and reports that it did.
//! * **Blocking.** With the default `timeout=-1` a send waits for as long as reconnecting
//!   takes, which is forever with `maxReconnectAttempts=-1` and no master. Set `timeout`
//!   (ms) to fail such sends instead.
//! * Only what a STOMP client can use is implemented: backup connections, priority URIs,
//!   broker-pushed URI lists and message tracking are parsed for fidelity but ignored.

pub mod stomp;
pub mod timeline;
pub mod url;

pub use stomp::{AckMode, ConnectOptions, ReconnectEvent, StompClient};
pub use url::FailoverUrl;
