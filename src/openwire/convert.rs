//! OpenWire messages ↔ the broker core's [`StoredMessage`], mapped the way ActiveMQ's STOMP
//! converter maps JMS messages, so STOMP and OpenWire clients read each other's messages.
//!
//! | JMS | stored header | notes |
//! |---|---|---|
//! | destination | `destination` field `/queue/x`, `/topic/x`, `/temp-queue/x`, `/temp-topic/x` | |
//! | JMSCorrelationID | `correlation-id` | |
//! | JMSExpiration | `expires` | always present, `0` = never |
//! | JMSPriority | `priority` | always present |
//! | JMSType | `type` | |
//! | JMSReplyTo | `reply-to` | as a STOMP destination |
//! | JMSXGroupID / JMSXGroupSeq | `JMSXGroupID` / `JMSXGroupSeq` | |
//! | JMSXUserID | `JMSXUserID` | |
//! | originalDestination | `original-destination` | set by the DLQ |
//! | JMSDeliveryMode, JMSTimestamp | `persistent`, `timestamp` fields | |
//! | properties | one header each, Java's `toString()` of the value | |
//! | TextMessage body | the body, UTF-8 | other types pass their content through |
//! | message type | `amq-msg-type` (`bytes`, `map`, ...) | absent for text, as ActiveMQ's STOMP expects |
//! | non-string property types | `mqsim-property-types` (`name:i,flag:z`) | so JMS → JMS keeps `Integer`s |
//!
//! The producer id and sequence go to `StoredMessage::producer`: the producer audit drops a
//! resend, and the consumer sees the producer's own JMSMessageID.
//!
//! Compressed content inflates to at most `maxFrameSize` bytes (what the body could have
//! been uncompressed), so a small zlib bomb is an error, not gigabytes.

use std::io::Read;

use super::codec::{PrimitiveMap, Reader, Value, Writer, decode_mutf8, encode_mutf8, read_map, read_value, write_map};
use super::command::{DestKind, Destination, Message, MessageId, ProducerId, types};
use crate::broker;
use crate::store::record::StoredMessage;

pub const MSG_TYPE: &str = "amq-msg-type";
pub const PROPERTY_TYPES: &str = "mqsim-property-types";

/// Stored headers that are JMS header fields or STOMP plumbing, not properties.
const NOT_PROPERTIES: [&str; 18] = [
    MSG_TYPE,
    PROPERTY_TYPES,
    "correlation-id",
    "expires",
    "priority",
    "type",
    "reply-to",
    "JMSXGroupID",
    "JMSXGroupSeq",
    "JMSXUserID",
    "original-destination",
    "timestamp",
    "redelivered",
    "subscription",
    "message-id",
    "ack",
    "destination",
    "persistent",
];

/// `/queue/x` etc.: the STOMP name, which is also what the core stores.
pub fn stomp_name(d: &Destination) -> String {
    let prefix = match d.kind {
        DestKind::Queue => "/queue/",
        DestKind::Topic => "/topic/",
        DestKind::TempQueue => "/temp-queue/",
        DestKind::TempTopic => "/temp-topic/",
    };
    format!("{prefix}{}", d.name)
}

/// The reverse of [`stomp_name`]; also takes `queue://x` and `topic://x`.
pub fn parse_stomp_name(s: &str) -> Option<Destination> {
    const PREFIXES: [(&str, DestKind); 8] = [
        ("/queue/", DestKind::Queue),
        ("/topic/", DestKind::Topic),
        ("/temp-queue/", DestKind::TempQueue),
        ("/temp-topic/", DestKind::TempTopic),
        ("queue://", DestKind::Queue),
        ("topic://", DestKind::Topic),
        ("temp-queue://", DestKind::TempQueue),
        ("temp-topic://", DestKind::TempTopic),
    ];
    PREFIXES
        .iter()
        .find_map(|(p, kind)| s.strip_prefix(p).map(|name| Destination { kind: *kind, name: name.to_string() }))
        .filter(|d| !d.name.is_empty())
}

/// A composite destination (`a,b,topic://c`) as its parts; a plain one as itself.
pub fn split_composite(d: &Destination) -> Vec<Destination> {
    if !d.name.contains(',') {
        return vec![d.clone()];
    }
    d.name
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| parse_stomp_name(p).unwrap_or(Destination { kind: d.kind, name: p.to_string() }))
        .collect()
}

/// The core's view: temp queues and topics are queues and topics under their own names.
pub fn to_core(d: &Destination) -> broker::Destination {
    if d.kind.is_topic() { broker::Destination::topic(&d.name) } else { broker::Destination::queue(&d.name) }
}

fn kind_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        types::MESSAGE => "message",
        types::BYTES_MESSAGE => "bytes",
        types::MAP_MESSAGE => "map",
        types::OBJECT_MESSAGE => "object",
        types::STREAM_MESSAGE => "stream",
        types::BLOB_MESSAGE => "blob",
        _ => return None,
    })
}

fn kind_of(name: &str) -> Option<u8> {
    Some(match name {
        "text" => types::TEXT_MESSAGE,
        "message" => types::MESSAGE,
        "bytes" => types::BYTES_MESSAGE,
        "map" => types::MAP_MESSAGE,
        "object" => types::OBJECT_MESSAGE,
        "stream" => types::STREAM_MESSAGE,
        "blob" => types::BLOB_MESSAGE,
        _ => return None,
    })
}

/// `zlib` inflated, at most `max` bytes of it.
fn inflate(z: &[u8], max: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(z)
        .take((max as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("{what}: {e}"))?;
    if out.len() > max {
        return Err(format!("{what} inflates to more than {max} bytes (maxFrameSize)"));
    }
    Ok(out)
}

/// The body of a message as the core keeps it: the text of a TextMessage, else the
/// content; compressed content is inflated (to at most `max` bytes).
fn body_of(m: &Message, max: usize) -> Result<Vec<u8>, String> {
    let Some(content) = &m.content else { return Ok(Vec::new()) };
    let raw = if !m.compressed {
        content.clone()
    } else if m.kind == types::TEXT_MESSAGE {
        inflate(content, max, "compressed text")?
    } else {
        // BytesMessage and friends: int32 original length, then a zlib stream.
        inflate(content.get(4..).unwrap_or_default(), max, "compressed content")?
    };
    if m.kind != types::TEXT_MESSAGE {
        return Ok(raw);
    }
    let mut r = Reader::new(&raw);
    let n = r.i32().map_err(|e| e.to_string())?;
    if n < 0 {
        return Ok(Vec::new());
    }
    let text = r.take(n as usize).map_err(|e| e.to_string())?;
    Ok(decode_mutf8(text).map_err(|e| e.to_string())?.into_bytes())
}

/// Java's `String.valueOf(double)`, near enough for headers.
fn java_float(v: f64, f32_digits: Option<f32>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = match f32_digits {
            Some(f) => format!("{f}"),
            None => format!("{v}"),
        };
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = match f32_digits {
            Some(f) => format!("{f:e}"),
            None => format!("{v:e}"),
        };
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.to_string() } else { format!("{m}.0") };
        format!("{m}E{e}")
    }
}

/// `(header value, type tag)`; tag `None` for strings.
fn property_text(v: &Value) -> Option<(String, Option<char>)> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => (s.clone(), None),
        Value::Bool(b) => (b.to_string(), Some('z')),
        Value::Byte(b) => (b.to_string(), Some('b')),
        Value::Char(c) => (String::from_utf16_lossy(&[*c]), Some('c')),
        Value::Short(s) => (s.to_string(), Some('s')),
        Value::Int(i) => (i.to_string(), Some('i')),
        Value::Long(l) => (l.to_string(), Some('l')),
        Value::Float(f) => (java_float(*f as f64, Some(*f)), Some('f')),
        Value::Double(d) => (java_float(*d, None), Some('d')),
        Value::Bytes(_) | Value::Map(_) | Value::List(_) => {
            let mut w = Writer::default();
            super::codec::write_value(&mut w, v);
            (w.buf.iter().map(|b| format!("{b:02x}")).collect(), Some('x'))
        }
    })
}

fn typed_value(text: &str, tag: char) -> Option<Value> {
    Some(match tag {
        'z' => Value::Bool(text == "true"),
        'b' => Value::Byte(text.parse().ok()?),
        'c' => Value::Char(*text.encode_utf16().collect::<Vec<_>>().first()?),
        's' => Value::Short(text.parse().ok()?),
        'i' => Value::Int(text.parse().ok()?),
        'l' => Value::Long(text.parse().ok()?),
        'f' => Value::Float(text.parse().ok()?),
        'd' => Value::Double(text.parse().ok()?),
        'x' => {
            let bytes: Option<Vec<u8>> = (0..text.len())
                .step_by(2)
                .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect();
            read_value(&mut Reader::new(&bytes?), 0).ok()?
        }
        _ => return None,
    })
}

/// An OpenWire message sent to `dest` (one part of a composite) as the core stores it.
pub fn to_stored(m: &Message, dest: &Destination, now_ms: u64) -> Result<StoredMessage, String> {
    to_stored_within(m, dest, now_ms, crate::limits::MAX_FRAME_SIZE)
}

/// [`to_stored`], with compressed content inflating to at most `max_body` bytes.
pub fn to_stored_within(
    m: &Message,
    dest: &Destination,
    now_ms: u64,
    max_body: usize,
) -> Result<StoredMessage, String> {
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(name) = kind_name(m.kind) {
        headers.push((MSG_TYPE.into(), name.into()));
    }
    if let Some(c) = &m.correlation_id {
        headers.push(("correlation-id".into(), c.clone()));
    }
    headers.push(("expires".into(), m.expiration.to_string()));
    headers.push(("priority".into(), m.priority.to_string()));
    if let Some(t) = &m.jms_type {
        headers.push(("type".into(), t.clone()));
    }
    if let Some(r) = &m.reply_to {
        headers.push(("reply-to".into(), stomp_name(r)));
    }
    if let Some(g) = &m.group_id {
        headers.push(("JMSXGroupID".into(), g.clone()));
        headers.push(("JMSXGroupSeq".into(), m.group_sequence.to_string()));
    }
    if let Some(u) = &m.user_id {
        headers.push(("JMSXUserID".into(), u.clone()));
    }
    if let Some(o) = &m.original_destination {
        headers.push(("original-destination".into(), stomp_name(o)));
    }
    if let Some(p) = &m.properties {
        let mut r = Reader::new(p);
        let map = read_map(&mut r).map_err(|e| format!("message properties: {e}"))?.unwrap_or_default();
        let mut tags = Vec::new();
        for (k, v) in &map {
            let Some((text, tag)) = property_text(v) else { continue };
            if let Some(tag) = tag.filter(|_| !k.contains([',', ':'])) {
                tags.push(format!("{k}:{tag}"));
            }
            headers.push((k.clone(), text));
        }
        if !tags.is_empty() {
            headers.push((PROPERTY_TYPES.into(), tags.join(",")));
        }
    }
    let producer = m.message_id.as_ref().and_then(|id| Some((id.producer.as_ref()?.key(), id.producer_seq as u64)));
    Ok(StoredMessage {
        seq: 0,
        destination: stomp_name(dest),
        headers,
        body: body_of(m, max_body)?,
        persistent: m.persistent,
        timestamp: if m.timestamp > 0 { m.timestamp as u64 } else { now_ms },
        redelivery_count: 0,
        producer,
    })
}

/// The JMS type tags (`mqsim-property-types`) of the properties its sender typed: `z`
/// boolean, `b`/`s`/`i`/`l` integers, `f`/`d` floating point, `c` char, `x` other.
pub fn property_tags(s: &StoredMessage) -> Vec<(&str, char)> {
    header(s, PROPERTY_TYPES)
        .map(|t| {
            t.split(',').filter_map(|e| e.rsplit_once(':')).filter_map(|(k, t)| Some((k, t.chars().next()?))).collect()
        })
        .unwrap_or_default()
}

fn header<'a>(s: &'a StoredMessage, name: &str) -> Option<&'a str> {
    s.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The producer id under which messages without one (STOMP, DLQ) are dispatched.
pub const SYNTHETIC_CONNECTION: &str = "ID:mqsim";

/// A stored message as the OpenWire message a consumer of `fallback` receives.
pub fn to_openwire(s: &StoredMessage, fallback: &Destination, redelivered: bool, now_ms: u64) -> Message {
    let kind = header(s, MSG_TYPE).and_then(kind_of).unwrap_or(if std::str::from_utf8(&s.body).is_ok() {
        types::TEXT_MESSAGE
    } else {
        types::BYTES_MESSAGE
    });
    let message_id = match s.producer.as_ref().and_then(|(key, seq)| Some((ProducerId::parse(key)?, *seq))) {
        Some((producer, seq)) => {
            MessageId { text_view: None, producer: Some(producer), producer_seq: seq as i64, broker_seq: s.seq as i64 }
        }
        None => MessageId {
            text_view: Some(format!("ID:mqsim-{}", s.seq)),
            producer: Some(ProducerId { connection: SYNTHETIC_CONNECTION.into(), value: 0, session: 0 }),
            producer_seq: s.seq as i64,
            broker_seq: s.seq as i64,
        },
    };
    let content = match kind {
        types::TEXT_MESSAGE => {
            let text = String::from_utf8_lossy(&s.body);
            let mut enc = Vec::with_capacity(s.body.len() + 4);
            enc.extend_from_slice(&[0; 4]);
            encode_mutf8(&text, &mut enc);
            let n = (enc.len() - 4) as i32;
            enc[..4].copy_from_slice(&n.to_be_bytes());
            Some(enc)
        }
        _ if s.body.is_empty() && kind == types::MESSAGE => None,
        _ => Some(s.body.clone()),
    };
    let tags = property_tags(s);
    let map: PrimitiveMap = s
        .headers
        .iter()
        .filter(|(k, _)| !NOT_PROPERTIES.contains(&k.as_str()))
        .map(|(k, v)| {
            let typed = tags.iter().find(|(n, _)| n == k).and_then(|(_, t)| typed_value(v, *t));
            (k.clone(), typed.unwrap_or_else(|| Value::String(v.clone())))
        })
        .collect();
    let properties = (!map.is_empty()).then(|| {
        let mut w = Writer::default();
        write_map(&mut w, Some(&map));
        w.buf
    });
    let group_id = header(s, "JMSXGroupID").map(str::to_string);
    Message {
        kind,
        producer_id: message_id.producer.clone(),
        destination: Some(parse_stomp_name(&s.destination).unwrap_or_else(|| fallback.clone())),
        message_id: Some(message_id),
        original_destination: header(s, "original-destination").and_then(parse_stomp_name),
        group_sequence: if group_id.is_some() {
            header(s, "JMSXGroupSeq").and_then(|v| v.parse().ok()).unwrap_or(0)
        } else {
            0
        },
        group_id,
        correlation_id: header(s, "correlation-id").map(str::to_string),
        persistent: s.persistent,
        expiration: header(s, "expires").and_then(|v| v.parse().ok()).unwrap_or(0),
        priority: header(s, "priority").and_then(|v| v.parse().ok()).unwrap_or(4),
        reply_to: header(s, "reply-to").and_then(parse_stomp_name),
        timestamp: s.timestamp as i64,
        jms_type: header(s, "type").map(str::to_string),
        content,
        properties,
        redelivery_counter: s.redelivery_count.saturating_add(redelivered as u32).min(i32::MAX as u32) as i32,
        user_id: header(s, "JMSXUserID").map(str::to_string),
        broker_in_time: s.timestamp as i64,
        broker_out_time: now_ms as i64,
        blob: (kind == types::BLOB_MESSAGE).then(Default::default),
        ..Message::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str) -> Destination {
        Destination { kind: DestKind::Queue, name: name.into() }
    }

    #[test]
    fn text_message_round_trips_through_the_store() {
        let mut props = Writer::default();
        let map: PrimitiveMap = vec![
            ("seq".into(), Value::Int(42)),
            ("who".into(), Value::String("h\u{e9}".into())),
            ("ok".into(), Value::Bool(true)),
            ("ratio".into(), Value::Double(0.5)),
        ];
        write_map(&mut props, Some(&map));
        let mut enc = Vec::new();
        encode_mutf8("h\u{e9}llo", &mut enc);
        let mut content = Vec::new();
        content.extend_from_slice(&(enc.len() as i32).to_be_bytes());
        content.extend_from_slice(&enc);
        let m = Message {
            kind: types::TEXT_MESSAGE,
            destination: Some(queue("q")),
            message_id: Some(MessageId {
                text_view: None,
                producer: Some(ProducerId { connection: "ID:h-1-2-3:1".into(), value: 1, session: 2 }),
                producer_seq: 7,
                broker_seq: 0,
            }),
            correlation_id: Some("corr".into()),
            persistent: true,
            priority: 4,
            reply_to: Some(Destination { kind: DestKind::TempQueue, name: "ID:h-1-2-3:1:1".into() }),
            timestamp: 1000,
            content: Some(content.clone()),
            properties: Some(props.buf.clone()),
            ..Message::default()
        };
        let mut s = to_stored(&m, &queue("q"), 5).unwrap();
        assert_eq!(s.body, "h\u{e9}llo".as_bytes());
        assert_eq!(s.destination, "/queue/q");
        assert_eq!(s.producer, Some(("ID:h-1-2-3:1:2:1".into(), 7)));
        assert_eq!(header(&s, "seq"), Some("42"));
        assert_eq!(header(&s, "reply-to"), Some("/temp-queue/ID:h-1-2-3:1:1"));
        assert_eq!(header(&s, "ratio"), Some("0.5"));
        s.seq = 99;
        let back = to_openwire(&s, &queue("q"), true, 6);
        assert_eq!(back.content, Some(content));
        assert_eq!(back.properties, Some(props.buf));
        assert_eq!(back.reply_to, m.reply_to);
        assert_eq!(back.correlation_id, m.correlation_id);
        assert_eq!(back.message_id.as_ref().unwrap().producer, m.message_id.as_ref().unwrap().producer);
        assert_eq!(back.message_id.as_ref().unwrap().broker_seq, 99);
        assert_eq!(back.redelivery_counter, 1);
    }

    #[test]
    fn stomp_messages_become_text_messages_with_string_properties() {
        let s = StoredMessage {
            seq: 3,
            destination: "/queue/a".into(),
            headers: vec![("color".into(), "red".into()), ("priority".into(), "7".into())],
            body: b"hi".to_vec(),
            persistent: false,
            timestamp: 1,
            redelivery_count: 0,
            producer: None,
        };
        let m = to_openwire(&s, &queue("a"), false, 2);
        assert_eq!(m.kind, types::TEXT_MESSAGE);
        assert_eq!(m.priority, 7);
        assert_eq!(m.message_id.unwrap().text_view.as_deref(), Some("ID:mqsim-3"));
        let map = read_map(&mut Reader::new(m.properties.as_ref().unwrap())).unwrap().unwrap();
        assert_eq!(map, vec![("color".to_string(), Value::String("red".into()))]);
    }

    #[test]
    fn compressed_content_inflates_within_the_frame_limit() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(vec![0, 0, 0, 0], flate2::Compression::best());
        z.write_all(&vec![0u8; 4 << 20]).unwrap();
        let content = z.finish().unwrap();
        assert!(content.len() < 16 << 10, "a small bomb: {} bytes", content.len());
        let m = Message { kind: types::BYTES_MESSAGE, compressed: true, content: Some(content), ..Message::default() };
        let e = to_stored_within(&m, &queue("q"), 0, 1 << 20).expect_err("a 4 MiB bomb refused at 1 MiB");
        assert!(e.contains("inflates to more than 1048576 bytes"), "{e}");
        assert_eq!(to_stored_within(&m, &queue("q"), 0, 4 << 20).unwrap().body.len(), 4 << 20);
    }

    #[test]
    fn composites_and_names() {
        let d = Destination { kind: DestKind::Queue, name: "a, topic://b,/temp-queue/c".into() };
        let parts = split_composite(&d);
        assert_eq!(parts[0], queue("a"));
        assert_eq!(parts[1].kind, DestKind::Topic);
        assert_eq!(parts[2].kind, DestKind::TempQueue);
        assert_eq!(java_float(1.0, None), "1.0");
        assert_eq!(java_float(1e10, None), "1.0E10");
        assert_eq!(typed_value("1.0E10", 'd'), Some(Value::Double(1e10)));
    }
}
