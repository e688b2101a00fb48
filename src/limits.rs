//! Every bound on what a client, a peer or a file may make mqsim hold, in one place.
//!
//! mqsim's one promise is that an acknowledged message is never lost. A broker that any
//! local process can reach must therefore keep that promise against hostile and careless
//! input too: each length and count a peer sends is checked against a bound here *before*
//! anything is allocated for it, and a name that passes here can always be stored (LMDB
//! keys are at most 511 bytes: `sub:<clientId>:<name>` + 9 bytes of sequence stays under).
//!
//! | bound | value | where ActiveMQ had one |
//! |---|---|---|
//! | destination name | 200 bytes | none (KahaDB/LevelDB keys grew with it) |
//! | client id, subscription name, username | 128 bytes each | none |
//! | producer id, message id, transaction id | 200 bytes | none |
//! | STOMP subscription id (`id`), receipt id (`receipt`) | 200 bytes each | none |
//! | selector text | 4096 bytes, [`SELECTOR_STEPS`] evaluation steps per message | none |
//! | STOMP headers (`STOMP_MAX_*`) | 1000 per frame, 10 KiB each, command line 1 KiB | `maxDataLength` only |
//! | STOMP `heart-beat` | each interval at most [`MAX_HEART_BEAT_MS`] (1 day), else ERROR | a Java `long` |
//! | STOMP `activemq.prefetchSize` | 1 to [`MAX_PREFETCH`]; larger values are clamped | 32767 (`Short.MAX_VALUE`) |
//! | frame | `cluster.maxFrameSize` (≤ [`MAX_FRAME_SIZE`]) | `wireFormat.maxFrameSize` |
//! | OpenWire collection counts | never more than the bytes left in the frame | none |
//! | OpenWire frame before the WireFormatInfo handshake | [`OPENWIRE_HANDSHAKE_FRAME`] (64 KiB); decoded maps, lists, arrays ≤ 8 bytes per frame byte + 64 KiB | none (`maxFrameSize` only) |
//! | consumers (STOMP subscriptions) per connection | [`MAX_CONSUMERS_PER_CONNECTION`] | `maximumConsumersAllowedPerConnection` |
//! | open transactions per connection | [`MAX_TRANSACTIONS_PER_CONNECTION`] | none |
//! | connections per connector | `cluster.maximumConnections` (≤ [`MAX_CONNECTIONS`]) | `maximumConnections` |
//! | console / dashboard connections | [`MAX_HTTP_CONNECTIONS`] each (fewer under a low open-file limit) | Jetty's thread pool |
//! | HTTP request head | [`MAX_HTTP_HEAD`] bytes, sent within [`HTTP_HEADER_READ_TIMEOUT`] | Jetty's `requestHeaderSize` (8 KiB) |
//! | HTTP request body | `cluster.maxFrameSize`, sent within [`HTTP_BODY_READ_TIMEOUT`] | none |
//! | control socket request line | [`MAX_CONTROL_REQUEST`] bytes within [`CONTROL_READ_TIMEOUT`] | n/a |
//! | broker lock hold per dispatch pass | 1024 messages, 5 × [`SELECTOR_STEPS`] (`broker::dispatch`) | none |
//! | index keys a record makes | 1 to 511 bytes, refused before the journal (`store::record`) | none |
//! | replication login and frame header | 64 KiB, login within 10 s (`replication::wire`) | none |
//!
//! Memory and store limits (`memoryLimit`, `storeLimit`, `pendingMessageLimit`,
//! `transactionLimit`) are `cluster.toml` settings; see `docs/security.md`.

use std::fmt;
use std::time::Duration;

/// Longest destination name (without `/queue/`, `/topic/` or `queue://`), in bytes.
pub const MAX_DESTINATION_NAME: usize = 200;
/// Longest client id, durable subscription name or username, in bytes.
pub const MAX_CLIENT_ID: usize = 128;
/// Longest producer, message or transaction id, in bytes.
pub const MAX_ID: usize = 200;
/// Longest selector text, in bytes.
pub const MAX_SELECTOR: usize = 4096;
/// Evaluation steps one selector may spend on one message before it counts as not matching.
pub const SELECTOR_STEPS: u32 = 10_000;
/// Headers one STOMP frame may carry (ActiveMQ's `StompWireFormat` limit).
pub const STOMP_MAX_HEADERS: usize = 1000;
/// Longest STOMP header line, in bytes (ActiveMQ: 10 KiB).
pub const STOMP_MAX_HEADER_LINE: usize = 10 * 1024;
/// Longest STOMP command line, in bytes (ActiveMQ: 1 KiB).
pub const STOMP_MAX_COMMAND_LINE: usize = 1024;
/// The longest STOMP heart-beat interval a client may ask for, in ms (1 day).
pub const MAX_HEART_BEAT_MS: u64 = 86_400_000;
/// The largest prefetch a STOMP subscription gets (ActiveMQ's `MAX_PREFETCH_SIZE`).
pub const MAX_PREFETCH: usize = 32_767;
/// The most `cluster.maxFrameSize` may be set to (ActiveMQ's default is 100 MiB).
pub const MAX_FRAME_SIZE: usize = 256 << 20;
/// The largest OpenWire frame taken before the WireFormatInfo handshake (a real one is
/// about 300 bytes).
pub const OPENWIRE_HANDSHAKE_FRAME: usize = 64 << 10;
/// Subscriptions (STOMP) or consumers (OpenWire) one connection may hold at once (ActiveMQ's
/// `maximumConsumersAllowedPerConnection`, unbounded by default there).
pub const MAX_CONSUMERS_PER_CONNECTION: usize = 1000;
/// Transactions one connection may have open at once; each buffers its sends until COMMIT.
pub const MAX_TRANSACTIONS_PER_CONNECTION: usize = 100;
/// The most `cluster.maximumConnections` may be set to (the connection semaphore's size).
pub const MAX_CONNECTIONS: usize = 100_000;

/// Open connections each web console (and the dashboard) serves at once; more are closed
/// at accept with a 503. Capped further to a quarter of the open-file limit.
pub const MAX_HTTP_CONNECTIONS: usize = 256;
/// Longest HTTP request line + headers (hyper's read buffer) on the consoles and dashboard.
pub const MAX_HTTP_HEAD: usize = 64 * 1024;
/// A connection that has not sent a complete request head this long after connecting (or
/// after its previous response) is closed: partial requests and idle keep-alives.
pub const HTTP_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must arrive within this long (408 otherwise).
pub const HTTP_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest request line the supervisor's control socket reads.
pub const MAX_CONTROL_REQUEST: usize = 64 * 1024;
/// The most of another console's `/api/status.json` the dashboard or another host's
/// supervisor reads (a few KiB with a few destinations).
pub const MAX_STATUS_JSON: usize = 1 << 20;
/// The control socket's request line must arrive within this long.
pub const CONTROL_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of name a check was about, for the error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Destination,
    ClientId,
    Subscription,
    ProducerId,
    MessageId,
    TransactionId,
    Username,
    Selector,
    /// A STOMP subscription's `id`.
    SubscriptionId,
    /// A STOMP frame's `receipt`.
    ReceiptId,
}

impl NameKind {
    pub fn max(self) -> usize {
        match self {
            NameKind::Destination => MAX_DESTINATION_NAME,
            NameKind::ClientId | NameKind::Subscription | NameKind::Username => MAX_CLIENT_ID,
            NameKind::ProducerId | NameKind::MessageId | NameKind::TransactionId => MAX_ID,
            NameKind::SubscriptionId | NameKind::ReceiptId => MAX_ID,
            NameKind::Selector => MAX_SELECTOR,
        }
    }

    fn label(self) -> &'static str {
        match self {
            NameKind::Destination => "destination name",
            NameKind::ClientId => "client id",
            NameKind::Subscription => "subscription name",
            NameKind::ProducerId => "producer id",
            NameKind::MessageId => "message id",
            NameKind::TransactionId => "transaction id",
            NameKind::Username => "username",
            NameKind::Selector => "selector",
            NameKind::SubscriptionId => "subscription id",
            NameKind::ReceiptId => "receipt id",
        }
    }
}

/// A name a client sent that mqsim will not take; its `Display` is the text of the STOMP
/// ERROR / OpenWire exception / HTTP 400 the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Empty(NameKind),
    TooLong {
        kind: NameKind,
        len: usize,
    },
    /// A NUL or other control character (they would break keys and header framing).
    Control(NameKind),
}

impl NameError {
    /// The message, naming the value as `what` ("destination name", "JMSReplyTo destination
    /// name", ...); `Display` names it by its kind.
    pub fn naming(&self, what: &str) -> String {
        match self {
            NameError::Empty(_) => format!("the {what} must not be empty"),
            NameError::TooLong { kind, len } => {
                format!("the {what} is {len} bytes long; the limit is {} bytes", kind.max())
            }
            NameError::Control(_) => format!("the {what} must not contain control characters"),
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            NameError::Empty(k) | NameError::Control(k) | NameError::TooLong { kind: k, .. } => *k,
        };
        f.write_str(&self.naming(kind.label()))
    }
}

impl std::error::Error for NameError {}

/// Checks one client-supplied name: not empty, at most `kind.max()` bytes, no control
/// characters (a selector may hold tabs and newlines).
pub fn check(kind: NameKind, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty(kind));
    }
    if name.len() > kind.max() {
        return Err(NameError::TooLong { kind, len: name.len() });
    }
    let control = |c: char| c.is_control() && !(kind == NameKind::Selector && matches!(c, '\t' | '\n' | '\r'));
    if name.chars().any(control) {
        return Err(NameError::Control(kind));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded() {
        assert!(check(NameKind::Destination, "orders").is_ok());
        assert_eq!(check(NameKind::Destination, ""), Err(NameError::Empty(NameKind::Destination)));
        let long = "q".repeat(MAX_DESTINATION_NAME + 1);
        assert!(matches!(check(NameKind::Destination, &long), Err(NameError::TooLong { len: 201, .. })));
        assert!(check(NameKind::Destination, &"q".repeat(MAX_DESTINATION_NAME)).is_ok());
        assert_eq!(check(NameKind::ClientId, "a\0b"), Err(NameError::Control(NameKind::ClientId)));
        assert!(check(NameKind::Selector, "a = 1\nAND b = 2").is_ok());
        assert!(check(NameKind::Subscription, "x\ny").is_err());
    }

    #[test]
    fn the_longest_names_make_a_storable_key() {
        // `sub:<clientId>:<name>` + NUL + 8-byte sequence must fit LMDB's 511-byte keys.
        let key = 4 + MAX_CLIENT_ID + 1 + MAX_CLIENT_ID + 1 + 8;
        assert!(key <= 511 && "/queue/".len() + MAX_DESTINATION_NAME + 9 <= 511 && MAX_ID <= 511);
    }
}
