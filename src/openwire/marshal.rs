//! Loose marshalling (cache off, no stack traces) of [`Command`]s, field for field in the
//! order of ActiveMQ's `openwire/v12/*Marshaller.looseMarshal`. No I/O.
//!
//! * [`decode`] takes one frame without its size prefix (type byte first) and must consume
//!   it exactly; anything else is [`CodecError::Malformed`].
//! * [`encode`] appends one frame with its size prefix.
//!
//! Arrays of objects and commands nested in commands are charged to the frame's memory
//! budget before they are allocated ([`Reader::charge`]), so a frame of `n` bytes decodes
//! to at most a small multiple of `n`, whatever counts it claims; objects nest at most
//! [`MAX_DEPTH`] deep.

use super::codec::{CodecError, Reader, Writer, malformed, read_map};
use super::command::*;
use super::encode::write_command;

/// Nesting limit for objects inside objects (a MessageDispatch holds a Message, which may
/// hold a DestinationInfo...).
pub const MAX_DEPTH: usize = 8;

/// What a command nested in another costs: the box of the [`Command`] and, at most, the
/// box of its body (a [`Message`] is the largest).
const NESTED_COMMAND: usize = size_of::<Command>() + size_of::<Message>();

/// Decodes one frame body (`type` byte, then fields).
pub fn decode(frame: &[u8]) -> Result<Command, CodecError> {
    let mut r = Reader::new(frame);
    let ty = r.u8()?;
    let cmd = read_command(&mut r, ty, 0)?;
    if r.remaining() != 0 {
        return Err(malformed(format!("{} bytes left over after a {}", r.remaining(), cmd.body.name())));
    }
    Ok(cmd)
}

/// Appends `cmd` as one size-prefixed frame.
pub fn encode(cmd: &Command, out: &mut Vec<u8>) {
    let mut w = Writer { buf: std::mem::take(out) };
    let start = w.buf.len();
    w.i32(0);
    w.u8(cmd.body.type_code());
    write_command(&mut w, cmd);
    let size = (w.buf.len() - start - 4) as i32;
    w.buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
    *out = w.buf;
}

/// One size-prefixed frame.
pub fn to_frame(cmd: &Command) -> Vec<u8> {
    let mut v = Vec::new();
    encode(cmd, &mut v);
    v
}

fn read_nested(r: &mut Reader, depth: usize) -> Result<Option<Data>, CodecError> {
    if !r.bool()? {
        return Ok(None);
    }
    let ty = r.u8()?;
    read_object(r, ty, depth + 1).map(Some)
}

fn read_object(r: &mut Reader, ty: u8, depth: usize) -> Result<Data, CodecError> {
    use types::*;
    if depth > MAX_DEPTH {
        return Err(malformed("objects nested too deeply"));
    }
    Ok(match ty {
        QUEUE | TOPIC | TEMP_QUEUE | TEMP_TOPIC => {
            let kind = match ty {
                QUEUE => DestKind::Queue,
                TOPIC => DestKind::Topic,
                TEMP_QUEUE => DestKind::TempQueue,
                _ => DestKind::TempTopic,
            };
            Data::Destination(Destination { kind, name: r.string()?.unwrap_or_default() })
        }
        MESSAGE_ID => Data::MessageId(MessageId {
            text_view: r.string()?,
            producer: producer_id(r, depth)?,
            producer_seq: r.i64()?,
            broker_seq: r.i64()?,
        }),
        LOCAL_TRANSACTION_ID => {
            Data::TransactionId(TransactionId::Local { value: r.i64()?, connection: connection_id(r, depth)? })
        }
        XA_TRANSACTION_ID => {
            Data::TransactionId(TransactionId::Xa { format: r.i32()?, global: r.bytes()?, branch: r.bytes()? })
        }
        CONNECTION_ID => Data::ConnectionId(r.string()?.unwrap_or_default()),
        SESSION_ID => Data::SessionId(SessionId { connection: r.string()?.unwrap_or_default(), value: r.i64()? }),
        CONSUMER_ID => Data::ConsumerId(ConsumerId {
            connection: r.string()?.unwrap_or_default(),
            session: r.i64()?,
            value: r.i64()?,
        }),
        PRODUCER_ID => Data::ProducerId(ProducerId {
            connection: r.string()?.unwrap_or_default(),
            value: r.i64()?,
            session: r.i64()?,
        }),
        BROKER_ID => Data::BrokerId(r.string()?.unwrap_or_default()),
        _ => {
            r.charge(1, 1, NESTED_COMMAND, "nested command")?;
            Data::Command(Box::new(read_command(r, ty, depth)?))
        }
    })
}

macro_rules! typed_reader {
    ($name:ident, $variant:ident, $ty:ty) => {
        fn $name(r: &mut Reader, depth: usize) -> Result<Option<$ty>, CodecError> {
            match read_nested(r, depth)? {
                None => Ok(None),
                Some(Data::$variant(v)) => Ok(Some(v)),
                Some(other) => Err(malformed(format!("expected {}, got {other:?}", stringify!($variant)))),
            }
        }
    };
}

typed_reader!(destination, Destination, Destination);
typed_reader!(connection_id, ConnectionId, String);
typed_reader!(session_id, SessionId, SessionId);
typed_reader!(consumer_id, ConsumerId, ConsumerId);
typed_reader!(producer_id, ProducerId, ProducerId);
typed_reader!(broker_id, BrokerId, String);
typed_reader!(message_id, MessageId, MessageId);
typed_reader!(transaction_id, TransactionId, TransactionId);

fn array(r: &mut Reader, depth: usize) -> Result<Array, CodecError> {
    if !r.bool()? {
        return Ok(None);
    }
    let n = r.i16()?;
    if n < 0 {
        return Err(malformed(format!("object array of {n} entries")));
    }
    r.charge(n as usize, 1, size_of::<Option<Data>>(), "object array")?;
    let mut v = Vec::with_capacity(n as usize);
    for _ in 0..n {
        v.push(read_nested(r, depth)?);
    }
    Ok(Some(v))
}

fn throwable(r: &mut Reader) -> Result<Option<Throwable>, CodecError> {
    if !r.bool()? {
        return Ok(None);
    }
    Ok(Some(Throwable { class: r.string()?, message: r.string()? }))
}

fn read_command(r: &mut Reader, ty: u8, depth: usize) -> Result<Command, CodecError> {
    use types::*;
    if ty == WIRE_FORMAT_INFO {
        let magic: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
        let version = r.i32()?;
        let properties = match r.bytes()? {
            None => None,
            Some(b) => {
                let mut pr = Reader::new(&b);
                let m = read_map(&mut pr)?;
                if pr.remaining() != 0 {
                    return Err(malformed("trailing bytes in WireFormatInfo properties"));
                }
                Some(m.unwrap_or_default())
            }
        };
        return Ok(Command::new(Body::WireFormatInfo(WireFormatInfo { magic, version, properties })));
    }
    let id = r.i32()?;
    let response_required = r.bool()?;
    let d = depth;
    let body = match ty {
        BROKER_INFO => Body::BrokerInfo(Box::new(BrokerInfo {
            broker_id: broker_id(r, d)?,
            broker_url: r.string()?,
            peer_broker_infos: array(r, d)?,
            broker_name: r.string()?,
            slave_broker: r.bool()?,
            master_broker: r.bool()?,
            fault_tolerant_configuration: r.bool()?,
            duplex_connection: r.bool()?,
            network_connection: r.bool()?,
            connection_id: r.i64()?,
            broker_upload_url: r.string()?,
            network_properties: r.string()?,
        })),
        CONNECTION_INFO => Body::ConnectionInfo(Box::new(ConnectionInfo {
            connection_id: connection_id(r, d)?,
            client_id: r.string()?,
            password: r.string()?,
            user_name: r.string()?,
            broker_path: array(r, d)?,
            broker_master_connector: r.bool()?,
            manageable: r.bool()?,
            client_master: r.bool()?,
            fault_tolerant: r.bool()?,
            failover_reconnect: r.bool()?,
            client_ip: r.string()?,
        })),
        SESSION_INFO => Body::SessionInfo(session_id(r, d)?),
        CONSUMER_INFO => Body::ConsumerInfo(Box::new(ConsumerInfo {
            consumer_id: consumer_id(r, d)?,
            browser: r.bool()?,
            destination: destination(r, d)?,
            prefetch_size: r.i32()?,
            maximum_pending_message_limit: r.i32()?,
            dispatch_async: r.bool()?,
            selector: r.string()?,
            client_id: r.string()?,
            subscription_name: r.string()?,
            no_local: r.bool()?,
            exclusive: r.bool()?,
            retroactive: r.bool()?,
            priority: r.u8()?,
            broker_path: array(r, d)?,
            additional_predicate: read_nested(r, d)?,
            network_subscription: r.bool()?,
            optimized_acknowledge: r.bool()?,
            no_range_acks: r.bool()?,
            network_consumer_path: array(r, d)?,
        })),
        PRODUCER_INFO => Body::ProducerInfo(Box::new(ProducerInfo {
            producer_id: producer_id(r, d)?,
            destination: destination(r, d)?,
            broker_path: array(r, d)?,
            dispatch_async: r.bool()?,
            window_size: r.i32()?,
        })),
        TRANSACTION_INFO => Body::TransactionInfo(TransactionInfo {
            connection_id: connection_id(r, d)?,
            transaction_id: transaction_id(r, d)?,
            kind: r.u8()?,
        }),
        DESTINATION_INFO => Body::DestinationInfo(Box::new(DestinationInfo {
            connection_id: connection_id(r, d)?,
            destination: destination(r, d)?,
            operation: r.u8()?,
            timeout: r.i64()?,
            broker_path: array(r, d)?,
        })),
        REMOVE_SUBSCRIPTION_INFO => Body::RemoveSubscriptionInfo(RemoveSubscriptionInfo {
            connection_id: connection_id(r, d)?,
            subscription_name: r.string()?,
            client_id: r.string()?,
        }),
        KEEP_ALIVE_INFO => Body::KeepAliveInfo,
        SHUTDOWN_INFO => Body::ShutdownInfo,
        REMOVE_INFO => {
            Body::RemoveInfo(RemoveInfo { object_id: read_nested(r, d)?, last_delivered_sequence_id: r.i64()? })
        }
        CONTROL_COMMAND => Body::ControlCommand(r.string()?),
        FLUSH_COMMAND => Body::FlushCommand,
        CONNECTION_ERROR => {
            Body::ConnectionError(ConnectionError { exception: throwable(r)?, connection_id: connection_id(r, d)? })
        }
        CONSUMER_CONTROL => Body::ConsumerControl(ConsumerControl {
            destination: destination(r, d)?,
            close: r.bool()?,
            consumer_id: consumer_id(r, d)?,
            prefetch: r.i32()?,
            flush: r.bool()?,
            start: r.bool()?,
            stop: r.bool()?,
        }),
        CONNECTION_CONTROL => Body::ConnectionControl(ConnectionControl {
            close: r.bool()?,
            exit: r.bool()?,
            fault_tolerant: r.bool()?,
            resume: r.bool()?,
            suspend: r.bool()?,
            connected_brokers: r.string()?,
            reconnect_to: r.string()?,
            rebalance_connection: r.bool()?,
            token: r.bytes()?,
        }),
        PRODUCER_ACK => Body::ProducerAck(ProducerAck { producer_id: producer_id(r, d)?, size: r.i32()? }),
        MESSAGE_PULL => Body::MessagePull(MessagePull {
            consumer_id: consumer_id(r, d)?,
            destination: destination(r, d)?,
            timeout: r.i64()?,
            correlation_id: r.string()?,
            message_id: message_id(r, d)?,
        }),
        MESSAGE_DISPATCH => Body::MessageDispatch(Box::new(MessageDispatch {
            consumer_id: consumer_id(r, d)?,
            destination: destination(r, d)?,
            message: match read_nested(r, d)? {
                None => None,
                Some(Data::Command(c)) if matches!(c.body, Body::Message(_)) => Some(c),
                Some(other) => return Err(malformed(format!("MessageDispatch of a non-message {other:?}"))),
            },
            redelivery_counter: r.i32()?,
        })),
        MESSAGE_ACK => Body::MessageAck(Box::new(MessageAck {
            destination: destination(r, d)?,
            transaction_id: transaction_id(r, d)?,
            consumer_id: consumer_id(r, d)?,
            ack_type: r.u8()?,
            first_message_id: message_id(r, d)?,
            last_message_id: message_id(r, d)?,
            message_count: r.i32()?,
            poison_cause: throwable(r)?,
        })),
        MESSAGE..=BLOB_MESSAGE => Body::Message(Box::new(read_message(r, ty, d)?)),
        RESPONSE => Body::Response { correlation_id: r.i32()? },
        EXCEPTION_RESPONSE => Body::ExceptionResponse { correlation_id: r.i32()?, exception: throwable(r)? },
        DATA_RESPONSE => Body::DataResponse { correlation_id: r.i32()?, data: read_nested(r, d)?.map(Box::new) },
        DATA_ARRAY_RESPONSE => Body::DataArrayResponse { correlation_id: r.i32()?, data: array(r, d)? },
        INTEGER_RESPONSE => Body::IntegerResponse { correlation_id: r.i32()?, result: r.i32()? },
        other => return Err(malformed(format!("unsupported command type {other}"))),
    };
    Ok(Command { id, response_required, body })
}

fn read_message(r: &mut Reader, kind: u8, d: usize) -> Result<Message, CodecError> {
    let mut m = Message {
        kind,
        producer_id: producer_id(r, d)?,
        destination: destination(r, d)?,
        transaction_id: transaction_id(r, d)?,
        original_destination: destination(r, d)?,
        message_id: message_id(r, d)?,
        original_transaction_id: transaction_id(r, d)?,
        group_id: r.string()?,
        group_sequence: r.i32()?,
        correlation_id: r.string()?,
        persistent: r.bool()?,
        expiration: r.i64()?,
        priority: r.u8()?,
        reply_to: destination(r, d)?,
        timestamp: r.i64()?,
        jms_type: r.string()?,
        content: r.bytes()?,
        properties: r.bytes()?,
        data_structure: read_nested(r, d)?,
        target_consumer_id: consumer_id(r, d)?,
        compressed: r.bool()?,
        redelivery_counter: r.i32()?,
        broker_path: array(r, d)?,
        arrival: r.i64()?,
        user_id: r.string()?,
        received_by_df_bridge: r.bool()?,
        droppable: r.bool()?,
        cluster: array(r, d)?,
        broker_in_time: r.i64()?,
        broker_out_time: r.i64()?,
        jmsx_group_first_for_consumer: r.bool()?,
        blob: None,
    };
    if kind == types::BLOB_MESSAGE {
        m.blob =
            Some(BlobFields { remote_blob_url: r.string()?, mime_type: r.string()?, deleted_by_broker: r.bool()? });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: Command) {
        let frame = to_frame(&c);
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(size, frame.len() - 4);
        assert_eq!(decode(&frame[4..]).unwrap(), c);
    }

    #[test]
    fn commands_round_trip() {
        let cid = ConsumerId { connection: "ID:c-1".into(), session: -1, value: 1 };
        round_trip(Command { id: 7, response_required: true, body: Body::Response { correlation_id: 3 } });
        round_trip(Command::new(Body::MessageAck(Box::new(MessageAck {
            destination: Some(Destination { kind: DestKind::Queue, name: "q".into() }),
            transaction_id: Some(TransactionId::Local { value: 2, connection: Some("ID:c-1".into()) }),
            consumer_id: Some(cid.clone()),
            ack_type: ack::POISON,
            first_message_id: None,
            last_message_id: Some(MessageId {
                text_view: None,
                producer: Some(ProducerId { connection: "ID:c-1".into(), value: 1, session: 1 }),
                producer_seq: 9,
                broker_seq: 10,
            }),
            message_count: 1,
            poison_cause: Some(Throwable::new("java.lang.Throwable", "boom")),
        }))));
        let msg = Message {
            kind: types::TEXT_MESSAGE,
            content: Some(vec![0, 0, 0, 1, b'x']),
            data_structure: Some(Data::Command(Box::new(Command::new(Body::DestinationInfo(Box::new(
                DestinationInfo {
                    connection_id: Some("ID:c-1".into()),
                    destination: Some(Destination { kind: DestKind::TempQueue, name: "ID:c-1:1".into() }),
                    operation: 0,
                    timeout: 0,
                    broker_path: Some(vec![Some(Data::BrokerId("b".into())), None]),
                },
            )))))),
            ..Message::default()
        };
        round_trip(Command::new(Body::MessageDispatch(Box::new(MessageDispatch {
            consumer_id: Some(cid),
            destination: None,
            message: Some(Box::new(Command::new(Body::Message(Box::new(msg))))),
            redelivery_counter: 2,
        }))));
    }

    #[test]
    fn truncated_and_unknown_frames_are_errors() {
        let frame = to_frame(&Command::new(Body::ConnectionControl(ConnectionControl::default())));
        for cut in 5..frame.len() - 1 {
            assert!(decode(&frame[4..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[99, 0, 0, 0, 1, 0]).is_err());
        let mut long = frame[4..].to_vec();
        long.push(0);
        assert!(decode(&long).is_err(), "trailing bytes");
    }

    #[test]
    fn hostile_arrays_and_nesting_are_refused() {
        // A ConnectionInfo whose brokerPath claims 32767 entries in a few bytes.
        let mut f = vec![types::CONNECTION_INFO, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0x7f, 0xff];
        f.extend_from_slice(&[0; 16]);
        let e = decode(&f).unwrap_err().to_string();
        assert!(e.contains("object array of 32767 entries"), "{e}");
        f[11..13].copy_from_slice(&(-1i16).to_be_bytes());
        assert!(decode(&f).is_err(), "negative count");
        // DataResponses nested in DataResponses.
        let nested = |depth: usize| {
            let mut f = vec![types::DATA_RESPONSE, 0, 0, 0, 1, 0, 0, 0, 0, 2];
            for _ in 0..depth {
                f.extend_from_slice(&[1, types::DATA_RESPONSE, 0, 0, 0, 1, 0, 0, 0, 0, 2]);
            }
            f.push(0);
            f
        };
        assert!(decode(&nested(MAX_DEPTH - 1)).is_ok());
        let e = decode(&nested(MAX_DEPTH + 5)).unwrap_err().to_string();
        assert!(e.contains("nested too deeply"), "{e}");
        // A WireFormatInfo whose properties hold a list of NULLs: its own budget refuses it.
        let mut props = vec![0, 0, 0, 1, 0, 1, b'k', 12];
        props.extend_from_slice(&1_000_000i32.to_be_bytes());
        props.resize(props.len() + 1_000_000, 0);
        let mut w = Writer::default();
        w.u8(types::WIRE_FORMAT_INFO);
        w.buf.extend_from_slice(&MAGIC);
        w.i32(12);
        w.bytes(Some(&props));
        assert!(decode(&w.buf).unwrap_err().to_string().contains("would take"));
    }
}
