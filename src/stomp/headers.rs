//! What the STOMP connector takes from a client's headers, and what it never takes.
//!
//! # How it works
//!
//! * **Credentials**: [`login`] decides a CONNECT/STOMP frame with [`crate::auth`]: with
//!   `[[user]]` entries in `cluster.toml` its `login`/`passcode` must name one of them, or
//!   the client gets ActiveMQ's "User name \[x\] or password is invalid." and a closed
//!   connection; with none, everyone is let in, as before.
//! * **Names**: [`check_names`] runs on every client frame before it reaches the broker and
//!   checks each name it carries with [`limits::check`] (length, not empty, no control
//!   characters): `client-id`, `receipt`, `transaction`, a subscription's `id` and
//!   `activemq.subscriptionName`, `selector`, an ACK's `id`/`message-id`/`subscription`.
//!   Destinations are checked where they are parsed ([`super::server::parse_destination`]),
//!   on the name without its `/queue/` or `/topic/` prefix. A violation is an ERROR frame
//!   naming the header and the limit (and, like every ERROR here, a closed connection).
//! * **Numbers**: [`heart_beat`] takes two decimal intervals of at most
//!   [`limits::MAX_HEART_BEAT_MS`] (a day); anything else (`18446744073709551615`, `-1`,
//!   `x`) is an ERROR, so the timers derived from them cannot overflow. [`prefetch`] is
//!   clamped to [`limits::MAX_PREFETCH`]. `content-length` is bounded by the frame decoder
//!   ([`super::frame`]) before any body byte is buffered for it.
//! * **Reserved headers** ([`RESERVED`]): the broker owns them. A SEND's copies are not
//!   stored; on delivery [`message_frame`] sets `destination`, `message-id`,
//!   `subscription`, `ack`, `persistent`, `redelivered` and `timestamp` itself and drops any
//!   stored copy (a message stored through REST or OpenWire, or by an older version, may
//!   carry them as properties), and the encoder writes `content-length` from the body's true
//!   length. So no stored header can frame, forge or misaddress what a consumer reads.
//!
//! # Caveats
//!
//! * Header names are not length-checked one by one: each header line is bounded (10 KiB)
//!   by the decoder, and user headers are properties the broker only stores.
//! * A dropped reserved header is dropped silently (ActiveMQ overwrote most of them too).

use crate::broker::Delivery;
use crate::config::User;
use crate::limits::{self, MAX_HEART_BEAT_MS, MAX_PREFETCH, NameKind};
use crate::message::header;

use super::frame::Frame;

/// Headers the broker owns on a MESSAGE (or that are STOMP plumbing): never stored from a
/// SEND, never delivered from a store.
pub const RESERVED: [&str; 12] = [
    header::DESTINATION,
    header::MESSAGE_ID,
    header::SUBSCRIPTION,
    header::ACK,
    "content-length",
    "receipt",
    "receipt-id",
    "transaction",
    header::PERSISTENT,
    header::REDELIVERED,
    header::TIMESTAMP,
    "browser",
];

/// Whether a header name is one the broker owns ([`RESERVED`]).
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// Longest piece of a client's header value quoted in an error.
const QUOTE_MAX: usize = 64;

fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_MAX) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_string(),
    }
}

/// Who the client is (`None`: anonymous, when no users are configured), or the error text.
pub fn login(users: &[User], connect: &Frame) -> Result<Option<String>, String> {
    crate::auth::authenticate(users, connect.get("login"), connect.get("passcode")).map_err(|e| e.to_string())
}

/// Which kind of name a header of this command carries, if it is one that is checked.
fn name_kind(command: &str, header: &str) -> Option<NameKind> {
    Some(match (command, header) {
        (_, "receipt") => NameKind::ReceiptId,
        (_, "transaction") => NameKind::TransactionId,
        ("CONNECT" | "STOMP", "client-id") => NameKind::ClientId,
        ("SUBSCRIBE" | "UNSUBSCRIBE", "id") => NameKind::SubscriptionId,
        ("SUBSCRIBE" | "UNSUBSCRIBE", "activemq.subscriptionName") => NameKind::Subscription,
        ("SUBSCRIBE", "selector") => NameKind::Selector,
        ("ACK" | "NACK", "id" | "message-id") => NameKind::MessageId,
        ("ACK" | "NACK", "subscription") => NameKind::SubscriptionId,
        _ => return None,
    })
}

/// Checks every name `frame` carries (every occurrence, not only the first).
pub fn check_names(frame: &Frame) -> Result<(), String> {
    for (header, value) in &frame.headers {
        let Some(kind) = name_kind(&frame.command, header) else { continue };
        // An empty client-id or a blank selector means none (as before).
        let absent = match kind {
            NameKind::ClientId => value.is_empty(),
            NameKind::Selector => value.trim().is_empty(),
            _ => false,
        };
        if !absent {
            limits::check(kind, value).map_err(|e| format!("Invalid {header} header: {e}"))?;
        }
    }
    Ok(())
}

/// The client's `heart-beat` (`cx,cy` in ms; absent is `0,0`).
pub fn heart_beat(header: Option<&str>) -> Result<(u64, u64), String> {
    let Some(text) = header else { return Ok((0, 0)) };
    let bad = || format!("Invalid heart-beat header {}: expected two intervals in ms, like 10000,10000", quote(text));
    let (cx, cy) = text.split_once(',').ok_or_else(bad)?;
    let parse = |s: &str| -> Result<u64, String> {
        let n: u64 = s.trim().parse().map_err(|_| bad())?;
        if n > MAX_HEART_BEAT_MS {
            return Err(format!("heart-beat interval {n} ms is over the limit of {MAX_HEART_BEAT_MS} ms (1 day)"));
        }
        Ok(n)
    };
    Ok((parse(cx)?, parse(cy)?))
}

/// A SUBSCRIBE's `activemq.prefetchSize`: at least 1, clamped to [`MAX_PREFETCH`].
pub fn prefetch(header: Option<&str>, default: usize) -> Result<usize, String> {
    let Some(text) = header else { return Ok(default) };
    match text.trim().parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("invalid activemq.prefetchSize {}", quote(text))),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX).min(MAX_PREFETCH)),
    }
}

/// The headers of a SEND that are stored with the message: all but the reserved ones.
pub fn stored_headers(send: &Frame) -> Vec<(String, String)> {
    send.headers.iter().filter(|(k, _)| !is_reserved(k)).cloned().collect()
}

/// The MESSAGE frame for a delivery on subscription `sub_id` (to `destination`, the name the
/// client subscribed with). Reserved headers come from the broker, never from the store.
pub fn message_frame(d: &Delivery, sub_id: &str, destination: &str) -> Frame {
    let m = &d.msg;
    let mut f = Frame::new("MESSAGE")
        .header(header::DESTINATION, destination)
        .header(header::MESSAGE_ID, m.message_id())
        .header(header::SUBSCRIPTION, sub_id)
        .header(header::ACK, format!("{}:{}", d.consumer, m.seq));
    if m.persistent {
        f = f.header(header::PERSISTENT, "true");
    }
    if d.redelivered || m.redelivery_count > 0 {
        f = f.header(header::REDELIVERED, "true");
    }
    f = f.header(header::TIMESTAMP, m.timestamp.to_string());
    for (k, v) in m.headers.iter().filter(|(k, _)| !is_reserved(k)) {
        f = f.header(k, v.clone());
    }
    f.body(m.body.clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::message::StoredMessage;
    use crate::stomp::frame::{Limits, Parsed, Version, decode, encode};

    fn frame(command: &str, headers: &[(&str, &str)]) -> Frame {
        headers.iter().fold(Frame::new(command), |f, (k, v)| f.header(k, *v))
    }

    #[test]
    fn names_are_checked_per_command() {
        let long = "x".repeat(201);
        assert!(check_names(&frame("SEND", &[("receipt", "r1"), ("transaction", "tx")])).is_ok());
        let e = check_names(&frame("SEND", &[("receipt", &long)])).unwrap_err();
        assert_eq!(e, "Invalid receipt header: the receipt id is 201 bytes long; the limit is 200 bytes");
        assert!(check_names(&frame("BEGIN", &[("transaction", &long)])).is_err());
        assert!(check_names(&frame("COMMIT", &[("transaction", "")])).is_err());
        assert!(check_names(&frame("CONNECT", &[("client-id", &"c".repeat(129))])).is_err());
        assert!(check_names(&frame("CONNECT", &[("client-id", "")])).is_ok(), "empty is none");
        assert!(check_names(&frame("CONNECT", &[("client-id", "a\u{1}b")])).is_err());
        assert!(check_names(&frame("SUBSCRIBE", &[("id", &long)])).is_err());
        assert!(check_names(&frame("SUBSCRIBE", &[("id", "")])).is_err());
        assert!(check_names(&frame("UNSUBSCRIBE", &[("id", &long)])).is_err());
        assert!(check_names(&frame("SUBSCRIBE", &[("activemq.subscriptionName", &"s".repeat(129))])).is_err());
        assert!(check_names(&frame("SUBSCRIBE", &[("selector", &"a".repeat(4097))])).is_err());
        assert!(check_names(&frame("SUBSCRIBE", &[("selector", " ")])).is_ok(), "blank is none");
        assert!(check_names(&frame("SUBSCRIBE", &[("selector", "a = 1\nAND b = 2")])).is_ok());
        assert!(check_names(&frame("ACK", &[("id", &long)])).is_err());
        assert!(check_names(&frame("NACK", &[("message-id", &long)])).is_err());
        assert!(check_names(&frame("ACK", &[("subscription", &long)])).is_err());
        // Every occurrence, not only the first one the handlers read.
        assert!(check_names(&frame("SEND", &[("receipt", "ok"), ("receipt", &long)])).is_err());
        // Headers that are not names of this command are left alone.
        assert!(check_names(&frame("SEND", &[("id", &long), ("selector", &long)])).is_ok());
    }

    #[test]
    fn heart_beats_are_bounded() {
        assert_eq!(heart_beat(None), Ok((0, 0)));
        assert_eq!(heart_beat(Some("0,0")), Ok((0, 0)));
        assert_eq!(heart_beat(Some(" 10000 , 5000 ")), Ok((10_000, 5_000)));
        assert_eq!(heart_beat(Some("86400000,86400000")), Ok((MAX_HEART_BEAT_MS, MAX_HEART_BEAT_MS)));
        let max = u64::MAX.to_string();
        for bad in [
            format!("{max},0"),
            format!("0,{max}"),
            format!("{max},{max}"),
            "86400001,0".into(),
            "18446744073709551616,0".into(),
            "-1,0".into(),
            "x,y".into(),
            "1000".into(),
            "1,2,3".into(),
            "".into(),
        ] {
            assert!(heart_beat(Some(&bad)).is_err(), "{bad}");
        }
        let e = heart_beat(Some(&format!("{max},0"))).unwrap_err();
        assert!(e.contains("over the limit of 86400000 ms"), "{e}");
        // What the connection derives from the largest accepted values cannot overflow.
        let (cx, cy) = heart_beat(Some("86400000,86400000")).unwrap();
        assert!(cx.checked_mul(3).is_some() && cy.checked_mul(3).is_some());
    }

    #[test]
    fn prefetch_is_clamped() {
        assert_eq!(prefetch(None, 1000), Ok(1000));
        assert_eq!(prefetch(Some("1"), 1000), Ok(1));
        assert_eq!(prefetch(Some("18446744073709551615"), 1000), Ok(MAX_PREFETCH));
        assert_eq!(prefetch(Some("2147483647"), 1000), Ok(MAX_PREFETCH));
        for bad in ["0", "-1", "x", "", "18446744073709551616"] {
            assert!(prefetch(Some(bad), 1000).is_err(), "{bad}");
        }
    }

    #[test]
    fn auth_decision() {
        let users = vec![User { username: "system".into(), password: "manager".into(), groups: String::new() }];
        let connect = |l: &str, p: &str| frame("CONNECT", &[("login", l), ("passcode", p)]);
        assert_eq!(login(&users, &connect("system", "manager")), Ok(Some("system".into())));
        assert_eq!(
            login(&users, &connect("nobody", "wrong")),
            Err("User name [nobody] or password is invalid.".into())
        );
        assert!(login(&users, &connect("system", "wrong")).is_err());
        assert!(login(&users, &Frame::new("CONNECT")).is_err(), "no credentials");
        // No users: everyone, as before.
        assert_eq!(login(&[], &connect("nobody", "wrong")), Ok(Some("nobody".into())));
        assert_eq!(login(&[], &Frame::new("STOMP")), Ok(None));
    }

    #[test]
    fn a_send_does_not_store_reserved_headers() {
        let send = frame(
            "SEND",
            &[
                ("destination", "/queue/a"),
                ("content-length", "5"),
                ("receipt", "r"),
                ("receipt-id", "forged"),
                ("message-id", "ID:x"),
                ("subscription", "s"),
                ("ack", "1:1"),
                ("color", "blue"),
            ],
        );
        assert_eq!(stored_headers(&send), vec![("color".to_string(), "blue".to_string())]);
    }

    #[test]
    fn delivery_never_trusts_stored_framing() {
        let body = b"hello\0RECEIPT\nreceipt-id:forged\n\n".to_vec();
        let stored: Vec<(String, String)> = [
            ("content-length", "5"),
            ("receipt-id", "forged"),
            ("receipt", "forged"),
            ("message-id", "ID:forged"),
            ("subscription", "forged"),
            ("ack", "forged"),
            ("destination", "/queue/forged"),
            ("persistent", "true"),
            ("color", "blue"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let msg = StoredMessage {
            seq: 7,
            destination: "/queue/q".into(),
            headers: stored,
            body: body.clone(),
            persistent: false,
            timestamp: 1,
            redelivery_count: 0,
            producer: None,
        };
        let d = Delivery { consumer: 3, msg: Arc::new(msg), redelivered: false };
        for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
            let mut wire = BytesMut::new();
            encode(&message_frame(&d, "sub-1", "/queue/q"), v, &mut wire);
            let Ok(Some(Parsed::Frame(f))) = decode(&mut wire, v, &Limits::default()) else { panic!() };
            assert!(wire.is_empty(), "exactly one frame, nothing after it: {wire:?}");
            assert_eq!(f.body, Bytes::from(body.clone()));
            let count = |name: &str| f.headers.iter().filter(|(k, _)| k == name).count();
            for (name, want) in [
                ("destination", "/queue/q"),
                ("message-id", "ID:mqsim-7"),
                ("subscription", "sub-1"),
                ("ack", "3:7"),
                ("content-length", "33"),
            ] {
                assert_eq!((f.get(name), count(name)), (Some(want), 1), "{name}");
            }
            assert_eq!((count("receipt-id"), count("receipt"), count("persistent")), (0, 0, 0));
            assert_eq!(f.get("color"), Some("blue"));
        }
    }
}
