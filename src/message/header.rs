//! The header vocabulary of a [`StoredMessage`], and its one lookup.
//!
//! Names are STOMP's (as ActiveMQ's STOMP converter maps JMS), so a STOMP consumer reads an
//! OpenWire producer's message and the other way round:
//!
//! | JMS | stored header |
//! |---|---|
//! | JMSCorrelationID | [`CORRELATION_ID`] |
//! | JMSExpiration | [`EXPIRES`] (`0` = never) |
//! | JMSPriority | [`PRIORITY`] (absent = [`DEFAULT_PRIORITY`]) |
//! | JMSType | [`TYPE`] |
//! | JMSReplyTo | [`REPLY_TO`], as a stored destination (`/queue/x`, `/temp-queue/x`…) |
//! | JMSXGroupID / JMSXGroupSeq | [`GROUP_ID`] / [`GROUP_SEQ`] |
//! | JMSXUserID | [`USER_ID`] |
//! | the DLQ's originalDestination | [`ORIGINAL_DESTINATION`] |
//! | the message type (bytes, map…) | [`MSG_TYPE`] (absent for text) |
//! | property types | [`PROPERTY_TYPES`] (see [`super::property`]) |
//!
//! JMSDeliveryMode and JMSTimestamp are the `persistent` and `timestamp` fields; the message
//! id is derived from the sequence ([`StoredMessage::message_id`]). Every other header is a
//! property.

use super::StoredMessage;

pub const MESSAGE_ID: &str = "message-id";
pub const DESTINATION: &str = "destination";
pub const PERSISTENT: &str = "persistent";
pub const TIMESTAMP: &str = "timestamp";
pub const REDELIVERED: &str = "redelivered";
pub const PRIORITY: &str = "priority";
pub const EXPIRES: &str = "expires";
pub const CORRELATION_ID: &str = "correlation-id";
pub const REPLY_TO: &str = "reply-to";
pub const TYPE: &str = "type";
pub const GROUP_ID: &str = "JMSXGroupID";
pub const GROUP_SEQ: &str = "JMSXGroupSeq";
pub const USER_ID: &str = "JMSXUserID";
pub const ORIGINAL_DESTINATION: &str = "original-destination";
/// The JMS message type when it is not text: `message`, `bytes`, `map`, `object`, `stream`, `blob`.
pub const MSG_TYPE: &str = "amq-msg-type";
/// The JMS types of the properties its sender typed: `name:i,flag:z` ([`super::property`]).
pub const PROPERTY_TYPES: &str = "mqsim-property-types";
/// STOMP's delivery plumbing: a stored message carries them only as leftovers (a message
/// stored through REST or OpenWire, or by an older version).
pub const SUBSCRIPTION: &str = "subscription";
pub const ACK: &str = "ack";

/// What [`StoredMessage::message_id`] puts before the sequence.
pub const MESSAGE_ID_PREFIX: &str = "ID:mqsim-";

/// JMS's default priority, for a message without a [`PRIORITY`] header.
pub const DEFAULT_PRIORITY: u8 = 4;

/// Stored headers that are JMS header fields or STOMP plumbing, not properties.
pub const NOT_PROPERTIES: [&str; 18] = [
    MSG_TYPE,
    PROPERTY_TYPES,
    CORRELATION_ID,
    EXPIRES,
    PRIORITY,
    TYPE,
    REPLY_TO,
    GROUP_ID,
    GROUP_SEQ,
    USER_ID,
    ORIGINAL_DESTINATION,
    TIMESTAMP,
    REDELIVERED,
    SUBSCRIPTION,
    MESSAGE_ID,
    ACK,
    DESTINATION,
    PERSISTENT,
];

/// Whether a stored header is a JMS property (not in [`NOT_PROPERTIES`]).
pub fn is_property(name: &str) -> bool {
    !NOT_PROPERTIES.contains(&name)
}

impl StoredMessage {
    /// The first header of that name: the one header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first header of that name, parsed (`None` when absent or not a `T`).
    pub fn parsed<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.header(name).and_then(|v| v.parse().ok())
    }

    /// Replaces every header of that name with one, at the end.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.to_string(), value.into()));
    }

    /// The message id a consumer sees when its sender gave none: `ID:mqsim-<seq>`.
    pub fn message_id(&self) -> String {
        format!("{MESSAGE_ID_PREFIX}{}", self.seq)
    }

    /// The sequence a [`StoredMessage::message_id`] names.
    pub fn seq_of(message_id: &str) -> Option<u64> {
        message_id.strip_prefix(MESSAGE_ID_PREFIX)?.parse().ok()
    }

    /// JMSPriority, as a `T` (the default when absent or not a `T`).
    pub fn priority<T: std::str::FromStr + From<u8>>(&self) -> T {
        self.parsed(PRIORITY).unwrap_or_else(|| DEFAULT_PRIORITY.into())
    }

    /// JMSExpiration in ms since the epoch; `0` (never) when absent.
    pub fn expires(&self) -> i64 {
        self.parsed(EXPIRES).unwrap_or(0)
    }

    pub fn correlation_id(&self) -> Option<&str> {
        self.header(CORRELATION_ID)
    }

    /// JMSType.
    pub fn jms_type(&self) -> Option<&str> {
        self.header(TYPE)
    }

    /// JMSReplyTo, in the stored spelling.
    pub fn reply_to(&self) -> Option<&str> {
        self.header(REPLY_TO)
    }

    pub fn group_id(&self) -> Option<&str> {
        self.header(GROUP_ID)
    }

    pub fn user_id(&self) -> Option<&str> {
        self.header(USER_ID)
    }

    /// Where a dead-lettered message was sent, in the stored spelling.
    pub fn original_destination(&self) -> Option<&str> {
        self.header(ORIGINAL_DESTINATION)
    }

    /// The JMS message type's name when it is not text ([`MSG_TYPE`]).
    pub fn msg_type(&self) -> Option<&str> {
        self.header(MSG_TYPE)
    }

    /// JMSDeliveryMode as JMS selectors name it.
    pub fn delivery_mode(&self) -> &'static str {
        if self.persistent { "PERSISTENT" } else { "NON_PERSISTENT" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(headers: &[(&str, &str)]) -> StoredMessage {
        StoredMessage {
            seq: 7,
            destination: "/queue/q".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: Vec::new(),
            persistent: true,
            timestamp: 1,
            redelivery_count: 0,
            producer: None,
        }
    }

    #[test]
    fn the_first_header_wins_and_defaults_apply() {
        let mut m = msg(&[(PRIORITY, "9"), (PRIORITY, "1"), (CORRELATION_ID, "c"), ("color", "red")]);
        assert_eq!(m.priority::<i64>(), 9);
        assert_eq!(m.priority::<u8>(), 9);
        assert_eq!(m.correlation_id(), Some("c"));
        assert_eq!(m.expires(), 0);
        assert_eq!(m.message_id(), "ID:mqsim-7");
        assert_eq!(StoredMessage::seq_of(&m.message_id()), Some(7));
        assert_eq!(StoredMessage::seq_of("ID:other-7"), None);
        assert_eq!(m.delivery_mode(), "PERSISTENT");
        m.set_header(PRIORITY, "x");
        assert_eq!(m.headers.last(), Some(&(PRIORITY.to_string(), "x".to_string())));
        assert_eq!(m.headers.iter().filter(|(k, _)| k == PRIORITY).count(), 1);
        assert_eq!(m.priority::<i64>(), 4, "not a number: the default");
        assert_eq!(msg(&[(PRIORITY, "300")]).priority::<u8>(), 4);
        assert_eq!(msg(&[(PRIORITY, "300")]).priority::<i64>(), 300);
        assert!(is_property("color") && !is_property(MSG_TYPE) && !is_property(DESTINATION));
    }
}
