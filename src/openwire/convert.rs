//! OpenWire messages ↔ the canonical [`StoredMessage`], in the vocabulary of
//! [`crate::message::header`] (ActiveMQ's STOMP converter's, so STOMP and OpenWire clients
//! read each other's messages). What is OpenWire's own stays here:
//!
//! * destinations: an OpenWire destination's kind (temporary or not) is kept in the stored
//!   spelling, `/queue/x`, `/topic/x`, `/temp-queue/x`, `/temp-topic/x`; JMSReplyTo and the
//!   DLQ's originalDestination likewise;
//! * JMSExpiration and JMSPriority are always stored (`expires` `0` = never);
//! * properties: the marshalled map is decoded here and each value handed to
//!   [`crate::message::property`] as a typed [`PropertyValue`] (which writes the text and
//!   the `mqsim-property-types` tags); a byte array, map or list is kept in OpenWire's own
//!   encoding ([`PropertyValue::Encoded`]);
//! * the body: a TextMessage's text is stored as UTF-8, other types pass their content
//!   through, and the JMS type goes to `amq-msg-type` (`bytes`, `map`, ...; absent for text,
//!   as ActiveMQ's STOMP expects).
//!
//! The producer id and sequence go to `StoredMessage::producer`: the producer audit drops a
//! resend, and the consumer sees the producer's own JMSMessageID.
//!
//! Compressed content inflates to at most `maxFrameSize` bytes (what the body could have
//! been uncompressed), so a small zlib bomb is an error, not gigabytes.

use std::io::Read;

use super::codec::{PrimitiveMap, Reader, Value, Writer, decode_mutf8, encode_mutf8, read_map, read_value, write_map};
use super::command::{DestKind, Destination, Message, MessageId, ProducerId, types};
use crate::message::header;
pub use crate::message::header::{MSG_TYPE, PROPERTY_TYPES};
use crate::message::{self as core, PropertyValue, StoredMessage, property};

/// `/queue/x` etc.: the STOMP name, which is also what the core stores.
pub fn stomp_name(d: &Destination) -> String {
    let prefix = match d.kind {
        DestKind::Queue => core::QUEUE_PREFIX,
        DestKind::Topic => core::TOPIC_PREFIX,
        DestKind::TempQueue => core::TEMP_QUEUE_PREFIX,
        DestKind::TempTopic => core::TEMP_TOPIC_PREFIX,
    };
    format!("{prefix}{}", d.name)
}

/// The reverse of [`stomp_name`]; also takes `queue://x` and `topic://x`.
pub fn parse_stomp_name(s: &str) -> Option<Destination> {
    const PREFIXES: [(&str, DestKind); 8] = [
        (core::QUEUE_PREFIX, DestKind::Queue),
        (core::TOPIC_PREFIX, DestKind::Topic),
        (core::TEMP_QUEUE_PREFIX, DestKind::TempQueue),
        (core::TEMP_TOPIC_PREFIX, DestKind::TempTopic),
        (core::QUEUE_SCHEME, DestKind::Queue),
        (core::TOPIC_SCHEME, DestKind::Topic),
        (core::TEMP_QUEUE_SCHEME, DestKind::TempQueue),
        (core::TEMP_TOPIC_SCHEME, DestKind::TempTopic),
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
pub fn to_core(d: &Destination) -> core::Destination {
    if d.kind.is_topic() { core::Destination::topic(&d.name) } else { core::Destination::queue(&d.name) }
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

/// An OpenWire property value as a typed property (`None`: a null, which is not stored).
fn property_value(v: &Value) -> Option<PropertyValue> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => PropertyValue::String(s.clone()),
        Value::Bool(b) => PropertyValue::Bool(*b),
        Value::Byte(b) => PropertyValue::Byte(*b),
        Value::Char(c) => PropertyValue::Char(*c),
        Value::Short(s) => PropertyValue::Short(*s),
        Value::Int(i) => PropertyValue::Int(*i),
        Value::Long(l) => PropertyValue::Long(*l),
        Value::Float(f) => PropertyValue::Float(*f),
        Value::Double(d) => PropertyValue::Double(*d),
        Value::Bytes(_) | Value::Map(_) | Value::List(_) => {
            let mut w = Writer::default();
            super::codec::write_value(&mut w, v);
            PropertyValue::Encoded(w.buf)
        }
    })
}

/// A typed property as the OpenWire value it was (`None`: encoded bytes that do not decode).
fn openwire_value(p: PropertyValue) -> Option<Value> {
    Some(match p {
        PropertyValue::String(s) => Value::String(s),
        PropertyValue::Bool(b) => Value::Bool(b),
        PropertyValue::Byte(b) => Value::Byte(b),
        PropertyValue::Char(c) => Value::Char(c),
        PropertyValue::Short(s) => Value::Short(s),
        PropertyValue::Int(i) => Value::Int(i),
        PropertyValue::Long(l) => Value::Long(l),
        PropertyValue::Float(f) => Value::Float(f),
        PropertyValue::Double(d) => Value::Double(d),
        PropertyValue::Encoded(bytes) => read_value(&mut Reader::new(&bytes), 0).ok()?,
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
    let mut put = |name: &str, value: String| headers.push((name.to_string(), value));
    if let Some(name) = kind_name(m.kind) {
        put(header::MSG_TYPE, name.into());
    }
    if let Some(c) = &m.correlation_id {
        put(header::CORRELATION_ID, c.clone());
    }
    put(header::EXPIRES, m.expiration.to_string());
    put(header::PRIORITY, m.priority.to_string());
    if let Some(t) = &m.jms_type {
        put(header::TYPE, t.clone());
    }
    if let Some(r) = &m.reply_to {
        put(header::REPLY_TO, stomp_name(r));
    }
    if let Some(g) = &m.group_id {
        put(header::GROUP_ID, g.clone());
        put(header::GROUP_SEQ, m.group_sequence.to_string());
    }
    if let Some(u) = &m.user_id {
        put(header::USER_ID, u.clone());
    }
    if let Some(o) = &m.original_destination {
        put(header::ORIGINAL_DESTINATION, stomp_name(o));
    }
    if let Some(p) = &m.properties {
        let mut r = Reader::new(p);
        let map = read_map(&mut r).map_err(|e| format!("message properties: {e}"))?.unwrap_or_default();
        property::append(&mut headers, map.into_iter().filter_map(|(k, v)| Some((k, property_value(&v)?))));
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

/// The producer id under which messages without one (STOMP, DLQ) are dispatched.
pub const SYNTHETIC_CONNECTION: &str = "ID:mqsim";

/// A stored message as the OpenWire message a consumer of `fallback` receives.
pub fn to_openwire(s: &StoredMessage, fallback: &Destination, redelivered: bool, now_ms: u64) -> Message {
    let kind = s.msg_type().and_then(kind_of).unwrap_or(if std::str::from_utf8(&s.body).is_ok() {
        types::TEXT_MESSAGE
    } else {
        types::BYTES_MESSAGE
    });
    let message_id = match s.producer.as_ref().and_then(|(key, seq)| Some((ProducerId::parse(key)?, *seq))) {
        Some((producer, seq)) => {
            MessageId { text_view: None, producer: Some(producer), producer_seq: seq as i64, broker_seq: s.seq as i64 }
        }
        None => MessageId {
            text_view: Some(s.message_id()),
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
    let map: PrimitiveMap = s
        .properties()
        .into_iter()
        .map(|p| {
            let typed = p.ty.and_then(|t| t.parse(p.text)).and_then(openwire_value);
            (p.name.to_string(), typed.unwrap_or_else(|| Value::String(p.text.to_string())))
        })
        .collect();
    let properties = (!map.is_empty()).then(|| {
        let mut w = Writer::default();
        write_map(&mut w, Some(&map));
        w.buf
    });
    let group_id = s.group_id().map(str::to_string);
    Message {
        kind,
        producer_id: message_id.producer.clone(),
        destination: Some(parse_stomp_name(&s.destination).unwrap_or_else(|| fallback.clone())),
        message_id: Some(message_id),
        original_destination: s.original_destination().and_then(parse_stomp_name),
        group_sequence: if group_id.is_some() { s.parsed(header::GROUP_SEQ).unwrap_or(0) } else { 0 },
        group_id,
        correlation_id: s.correlation_id().map(str::to_string),
        persistent: s.persistent,
        expiration: s.expires(),
        priority: s.priority(),
        reply_to: s.reply_to().and_then(parse_stomp_name),
        timestamp: s.timestamp as i64,
        jms_type: s.jms_type().map(str::to_string),
        content,
        properties,
        redelivery_counter: s.redelivery_count.saturating_add(redelivered as u32).min(i32::MAX as u32) as i32,
        user_id: s.user_id().map(str::to_string),
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
        assert_eq!(s.header("seq"), Some("42"));
        assert_eq!(s.header("reply-to"), Some("/temp-queue/ID:h-1-2-3:1:1"));
        assert_eq!(s.header("ratio"), Some("0.5"));
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
        assert_eq!(property::java_float(1.0, None), "1.0");
        assert_eq!(property::java_float(1e10, None), "1.0E10");
        let typed = crate::message::PropertyType::Double.parse("1.0E10").and_then(openwire_value);
        assert_eq!(typed, Some(Value::Double(1e10)));
    }
}
