//! OpenWire (ActiveMQ's native protocol, version 12) on each master's openwire port, so
//! the notes' Java JMS client with `failover:(tcp://...)?randomize=false` works unchanged.
//!
//! # How it works
//!
//! [`codec`] holds the primitives (big-endian integers, Java modified UTF-8, primitive maps)
//! and the size-prefixed framing; [`command`] the commands as plain data; [`marshal`] (with
//! `encode`) turns them into bytes and back in the field order of ActiveMQ's v12 marshallers (golden vectors
//! from the real jar check it, `tests/openwire.rs`). Each command's fields are listed once,
//! in wire order with their wire kinds, and `fields` generates its struct, decoder and
//! encoder from that. No I/O in any of them.
//!
//! [`server`] accepts a connection and sends its WireFormatInfo at once: loose encoding, no
//! cache, no stack traces. The client ANDs those flags with its own, so everything after is
//! in the simple loose encoding whatever it asked for. After the client's WireFormatInfo
//! (version 10–12 accepted, 12 spoken) comes a BrokerInfo, then the command loop;
//! KeepAliveInfo goes out after 10 s of silence and a client silent for the negotiated
//! inactivity period (+ the initial delay) is dropped.
//!
//! [`conn`] maps each command onto the broker core ([`crate::broker`]), which STOMP shares:
//! ConnectionInfo, SessionInfo and ProducerInfo are recorded and answered; ConsumerInfo
//! subscribes (queues and durable subscriptions ack per message, cumulatively for STANDARD
//! acks; a plain topic subscriber is not tracked); a message (types 23–29) is converted by
//! [`convert`] into the canonical [`crate::message::StoredMessage`] and sent, its Response only once it is stored (and replicated per `sync`);
//! MessageAck STANDARD/INDIVIDUAL ack, POISON moves to `ActiveMQ.DLQ`, DELIVERED and
//! REDELIVERED only ever meant credit; RemoveInfo cascades (connection → sessions →
//! consumers, producers); transactions collect sends and acks and commit them as one
//! journal record. Every command with `responseRequired` gets a Response (or an
//! ExceptionResponse), which the client's synchronous calls wait for forever.
//!
//! # Hostile input
//!
//! Before the WireFormatInfo a frame may be 64 KiB at most; after it `maxFrameSize`. No
//! count or length a peer sends allocates beyond the bytes it sent, and decoded maps,
//! lists and arrays stay within a memory budget per frame ([`codec`]). Every command then
//! passes [`checks`]: names within [`crate::limits`] (else an ExceptionResponse) and, with
//! `[[user]]`s in `cluster.toml`, an authenticated ConnectionInfo before anything else
//! (else a SecurityException and a closed connection). Prefetch is capped at 32767 and
//! compressed bodies inflate to `maxFrameSize` at most.
//!
//! # Failover
//!
//! Slaves do not open the port, so the client's connect is refused and it moves down its
//! list. On the new master it replays ConnectionInfo (`failoverReconnect`), its temporary
//! destinations, sessions, producers and consumers with prefetch 0, and then a
//! ConsumerControl with the real prefetch: a prefetch-0 consumer is subscribed only then
//! (or at its first MessagePull). It resends every send still waiting for a Response; the
//! message carries (producerId, sequence), and the replicated producer audit in the store
//! drops it if the old master had stored it. The broker never sends a non-empty
//! `connectedBrokers`, which would replace the client's failover list.
//!
//! # Caveats
//!
//! * Selectors as JMS types them (an int property compares as a number, a string never does);
//!   one that does not parse, or one on a durable subscription, gets an
//!   InvalidSelectorException or a JMSException. No wildcards, no XA recovery (RECOVER answers
//!   an empty list), no network-of-brokers commands.
//! * A queue browser gets a copy of up to 400 waiting messages (ActiveMQ's default
//!   `maxBrowsePageSize`) when it is created, then "browse done"; messages in flight on a
//!   consumer are left out, and messages sent later are not shown.
//! * Messages to temporary destinations are kept in memory only (non-persistent), as in
//!   ActiveMQ; temporary destinations are not checked for existence on send.
//! * DELIVERED acks do not extend prefetch credit: a client-ack or transacted consumer that
//!   holds more than its prefetch unacknowledged gets nothing more until it acks.
//! * Client ids are not checked for uniqueness; JMSExpiration is carried, not enforced.
//! * Non-string JMS properties are kept typed through a `mqsim-property-types` header,
//!   which STOMP consumers see too; a lone UTF-16 surrogate in text becomes U+FFFD.

pub mod advisory;
pub mod checks;
pub mod codec;
pub mod command;
pub mod conn;
pub mod convert;
#[cfg(test)]
mod corpus_golden;
mod encode;
mod fields;
pub mod marshal;
pub mod server;
