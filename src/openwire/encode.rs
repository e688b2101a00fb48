//! The writing half of [`super::marshal`]: loose marshalling, field for field in the
//! order of ActiveMQ's v12 `looseMarshal` (cache off, so a "cached" object is written like a
//! nested one; no stack traces, so a throwable is its class and message). A command's
//! fields are written by its description in [`super::command`] (`write_fields`).

use super::codec::Writer;
use super::command::*;

fn write_data(w: &mut Writer, d: &Data) {
    match d {
        Data::Destination(x) => {
            w.u8(x.kind.type_code());
            w.string(Some(&x.name));
        }
        Data::ConnectionId(x) => {
            w.u8(types::CONNECTION_ID);
            w.string(Some(x));
        }
        Data::SessionId(x) => {
            w.u8(types::SESSION_ID);
            x.write_fields(w);
        }
        Data::ConsumerId(x) => {
            w.u8(types::CONSUMER_ID);
            x.write_fields(w);
        }
        Data::ProducerId(x) => {
            w.u8(types::PRODUCER_ID);
            x.write_fields(w);
        }
        Data::BrokerId(x) => {
            w.u8(types::BROKER_ID);
            w.string(Some(x));
        }
        Data::MessageId(x) => {
            w.u8(types::MESSAGE_ID);
            x.write_fields(w);
        }
        Data::TransactionId(TransactionId::Local { value, connection }) => {
            w.u8(types::LOCAL_TRANSACTION_ID);
            w.i64(*value);
            nested(w, connection.clone().map(Data::ConnectionId).as_ref());
        }
        Data::TransactionId(TransactionId::Xa { format, global, branch }) => {
            w.u8(types::XA_TRANSACTION_ID);
            w.i32(*format);
            w.bytes(global.as_deref());
            w.bytes(branch.as_deref());
        }
        Data::Command(c) => {
            w.u8(c.body.type_code());
            write_command(w, c);
        }
    }
}

pub(super) fn nested(w: &mut Writer, d: Option<&Data>) {
    w.bool(d.is_some());
    if let Some(d) = d {
        write_data(w, d);
    }
}

pub(super) fn dest(w: &mut Writer, d: &Option<Destination>) {
    nested(w, d.clone().map(Data::Destination).as_ref());
}
pub(super) fn conn(w: &mut Writer, d: &Option<String>) {
    nested(w, d.clone().map(Data::ConnectionId).as_ref());
}
pub(super) fn cons(w: &mut Writer, d: &Option<ConsumerId>) {
    nested(w, d.clone().map(Data::ConsumerId).as_ref());
}
pub(super) fn prod(w: &mut Writer, d: &Option<ProducerId>) {
    nested(w, d.clone().map(Data::ProducerId).as_ref());
}
pub(super) fn msgid(w: &mut Writer, d: &Option<MessageId>) {
    nested(w, d.clone().map(Data::MessageId).as_ref());
}
pub(super) fn txid(w: &mut Writer, d: &Option<TransactionId>) {
    nested(w, d.clone().map(Data::TransactionId).as_ref());
}

pub(super) fn write_array(w: &mut Writer, a: &Array) {
    w.bool(a.is_some());
    if let Some(v) = a {
        w.i16(v.len() as i16);
        for d in v {
            nested(w, d.as_ref());
        }
    }
}

pub(super) fn write_throwable(w: &mut Writer, t: &Option<Throwable>) {
    w.bool(t.is_some());
    if let Some(t) = t {
        w.string(t.class.as_deref());
        w.string(t.message.as_deref());
    }
}

pub(super) fn write_command(w: &mut Writer, c: &Command) {
    if let Body::WireFormatInfo(x) = &c.body {
        x.write_fields(w);
        return;
    }
    w.i32(c.id);
    w.bool(c.response_required);
    match &c.body {
        Body::WireFormatInfo(_) => unreachable!("handled above"),
        Body::BrokerInfo(x) => x.write_fields(w),
        Body::ConnectionInfo(x) => x.write_fields(w),
        Body::SessionInfo(x) => nested(w, x.clone().map(Data::SessionId).as_ref()),
        Body::ConsumerInfo(x) => x.write_fields(w),
        Body::ProducerInfo(x) => x.write_fields(w),
        Body::TransactionInfo(x) => x.write_fields(w),
        Body::DestinationInfo(x) => x.write_fields(w),
        Body::RemoveSubscriptionInfo(x) => x.write_fields(w),
        Body::KeepAliveInfo | Body::ShutdownInfo | Body::FlushCommand => {}
        Body::RemoveInfo(x) => x.write_fields(w),
        Body::ControlCommand(x) => w.string(x.as_deref()),
        Body::ConnectionError(x) => x.write_fields(w),
        Body::ConsumerControl(x) => x.write_fields(w),
        Body::ConnectionControl(x) => x.write_fields(w),
        Body::ProducerAck(x) => x.write_fields(w),
        Body::MessagePull(x) => x.write_fields(w),
        Body::MessageDispatch(x) => x.write_fields(w),
        Body::MessageAck(x) => x.write_fields(w),
        Body::Message(m) => {
            // By hand around the description: a BlobMessage's three more fields.
            m.write_fields(w);
            if m.kind == types::BLOB_MESSAGE {
                m.blob.clone().unwrap_or_default().write_fields(w);
            }
        }
        Body::Response { correlation_id } => w.i32(*correlation_id),
        Body::ExceptionResponse { correlation_id, exception } => {
            w.i32(*correlation_id);
            write_throwable(w, exception);
        }
        Body::DataResponse { correlation_id, data } => {
            w.i32(*correlation_id);
            nested(w, data.as_deref());
        }
        Body::DataArrayResponse { correlation_id, data } => {
            w.i32(*correlation_id);
            write_array(w, data);
        }
        Body::IntegerResponse { correlation_id, result } => {
            w.i32(*correlation_id);
            w.i32(*result);
        }
    }
}
