//! The writing half of [`super::marshal`]: loose marshalling, field for field in the
//! order of ActiveMQ's v12 `looseMarshal` (cache off, so a "cached" object is written like a
//! nested one; no stack traces, so a throwable is its class and message).

use super::codec::{Writer, write_map};
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
            w.string(Some(&x.connection));
            w.i64(x.value);
        }
        Data::ConsumerId(x) => {
            w.u8(types::CONSUMER_ID);
            w.string(Some(&x.connection));
            w.i64(x.session);
            w.i64(x.value);
        }
        Data::ProducerId(x) => {
            w.u8(types::PRODUCER_ID);
            w.string(Some(&x.connection));
            w.i64(x.value);
            w.i64(x.session);
        }
        Data::BrokerId(x) => {
            w.u8(types::BROKER_ID);
            w.string(Some(x));
        }
        Data::MessageId(x) => {
            w.u8(types::MESSAGE_ID);
            w.string(x.text_view.as_deref());
            nested(w, x.producer.clone().map(Data::ProducerId).as_ref());
            w.i64(x.producer_seq);
            w.i64(x.broker_seq);
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

fn nested(w: &mut Writer, d: Option<&Data>) {
    w.bool(d.is_some());
    if let Some(d) = d {
        write_data(w, d);
    }
}

fn dest(w: &mut Writer, d: &Option<Destination>) {
    nested(w, d.clone().map(Data::Destination).as_ref());
}
fn conn(w: &mut Writer, d: &Option<String>) {
    nested(w, d.clone().map(Data::ConnectionId).as_ref());
}
fn cons(w: &mut Writer, d: &Option<ConsumerId>) {
    nested(w, d.clone().map(Data::ConsumerId).as_ref());
}
fn prod(w: &mut Writer, d: &Option<ProducerId>) {
    nested(w, d.clone().map(Data::ProducerId).as_ref());
}
fn msgid(w: &mut Writer, d: &Option<MessageId>) {
    nested(w, d.clone().map(Data::MessageId).as_ref());
}
fn txid(w: &mut Writer, d: &Option<TransactionId>) {
    nested(w, d.clone().map(Data::TransactionId).as_ref());
}

fn write_array(w: &mut Writer, a: &Array) {
    w.bool(a.is_some());
    if let Some(v) = a {
        w.i16(v.len() as i16);
        for d in v {
            nested(w, d.as_ref());
        }
    }
}

fn write_throwable(w: &mut Writer, t: &Option<Throwable>) {
    w.bool(t.is_some());
    if let Some(t) = t {
        w.string(t.class.as_deref());
        w.string(t.message.as_deref());
    }
}

pub(super) fn write_command(w: &mut Writer, c: &Command) {
    if let Body::WireFormatInfo(x) = &c.body {
        w.buf.extend_from_slice(&x.magic);
        w.i32(x.version);
        match &x.properties {
            None => w.bool(false),
            Some(p) => {
                let mut m = Writer::default();
                write_map(&mut m, Some(p));
                w.bytes(Some(&m.buf));
            }
        }
        return;
    }
    w.i32(c.id);
    w.bool(c.response_required);
    match &c.body {
        Body::WireFormatInfo(_) => unreachable!("handled above"),
        Body::BrokerInfo(x) => {
            nested(w, x.broker_id.clone().map(Data::BrokerId).as_ref());
            w.string(x.broker_url.as_deref());
            write_array(w, &x.peer_broker_infos);
            w.string(x.broker_name.as_deref());
            w.bool(x.slave_broker);
            w.bool(x.master_broker);
            w.bool(x.fault_tolerant_configuration);
            w.bool(x.duplex_connection);
            w.bool(x.network_connection);
            w.i64(x.connection_id);
            w.string(x.broker_upload_url.as_deref());
            w.string(x.network_properties.as_deref());
        }
        Body::ConnectionInfo(x) => {
            conn(w, &x.connection_id);
            w.string(x.client_id.as_deref());
            w.string(x.password.as_deref());
            w.string(x.user_name.as_deref());
            write_array(w, &x.broker_path);
            w.bool(x.broker_master_connector);
            w.bool(x.manageable);
            w.bool(x.client_master);
            w.bool(x.fault_tolerant);
            w.bool(x.failover_reconnect);
            w.string(x.client_ip.as_deref());
        }
        Body::SessionInfo(x) => nested(w, x.clone().map(Data::SessionId).as_ref()),
        Body::ConsumerInfo(x) => {
            cons(w, &x.consumer_id);
            w.bool(x.browser);
            dest(w, &x.destination);
            w.i32(x.prefetch_size);
            w.i32(x.maximum_pending_message_limit);
            w.bool(x.dispatch_async);
            w.string(x.selector.as_deref());
            w.string(x.client_id.as_deref());
            w.string(x.subscription_name.as_deref());
            w.bool(x.no_local);
            w.bool(x.exclusive);
            w.bool(x.retroactive);
            w.u8(x.priority);
            write_array(w, &x.broker_path);
            nested(w, x.additional_predicate.as_ref());
            w.bool(x.network_subscription);
            w.bool(x.optimized_acknowledge);
            w.bool(x.no_range_acks);
            write_array(w, &x.network_consumer_path);
        }
        Body::ProducerInfo(x) => {
            prod(w, &x.producer_id);
            dest(w, &x.destination);
            write_array(w, &x.broker_path);
            w.bool(x.dispatch_async);
            w.i32(x.window_size);
        }
        Body::TransactionInfo(x) => {
            conn(w, &x.connection_id);
            txid(w, &x.transaction_id);
            w.u8(x.kind);
        }
        Body::DestinationInfo(x) => {
            conn(w, &x.connection_id);
            dest(w, &x.destination);
            w.u8(x.operation);
            w.i64(x.timeout);
            write_array(w, &x.broker_path);
        }
        Body::RemoveSubscriptionInfo(x) => {
            conn(w, &x.connection_id);
            w.string(x.subscription_name.as_deref());
            w.string(x.client_id.as_deref());
        }
        Body::KeepAliveInfo | Body::ShutdownInfo | Body::FlushCommand => {}
        Body::RemoveInfo(x) => {
            nested(w, x.object_id.as_ref());
            w.i64(x.last_delivered_sequence_id);
        }
        Body::ControlCommand(x) => w.string(x.as_deref()),
        Body::ConnectionError(x) => {
            write_throwable(w, &x.exception);
            conn(w, &x.connection_id);
        }
        Body::ConsumerControl(x) => {
            dest(w, &x.destination);
            w.bool(x.close);
            cons(w, &x.consumer_id);
            w.i32(x.prefetch);
            w.bool(x.flush);
            w.bool(x.start);
            w.bool(x.stop);
        }
        Body::ConnectionControl(x) => {
            w.bool(x.close);
            w.bool(x.exit);
            w.bool(x.fault_tolerant);
            w.bool(x.resume);
            w.bool(x.suspend);
            w.string(x.connected_brokers.as_deref());
            w.string(x.reconnect_to.as_deref());
            w.bool(x.rebalance_connection);
            w.bytes(x.token.as_deref());
        }
        Body::ProducerAck(x) => {
            prod(w, &x.producer_id);
            w.i32(x.size);
        }
        Body::MessagePull(x) => {
            cons(w, &x.consumer_id);
            dest(w, &x.destination);
            w.i64(x.timeout);
            w.string(x.correlation_id.as_deref());
            msgid(w, &x.message_id);
        }
        Body::MessageDispatch(x) => {
            cons(w, &x.consumer_id);
            dest(w, &x.destination);
            w.bool(x.message.is_some());
            if let Some(m) = &x.message {
                w.u8(m.body.type_code());
                write_command(w, m);
            }
            w.i32(x.redelivery_counter);
        }
        Body::MessageAck(x) => {
            dest(w, &x.destination);
            txid(w, &x.transaction_id);
            cons(w, &x.consumer_id);
            w.u8(x.ack_type);
            msgid(w, &x.first_message_id);
            msgid(w, &x.last_message_id);
            w.i32(x.message_count);
            write_throwable(w, &x.poison_cause);
        }
        Body::Message(m) => write_message(w, m),
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

fn write_message(w: &mut Writer, m: &Message) {
    prod(w, &m.producer_id);
    dest(w, &m.destination);
    txid(w, &m.transaction_id);
    dest(w, &m.original_destination);
    msgid(w, &m.message_id);
    txid(w, &m.original_transaction_id);
    w.string(m.group_id.as_deref());
    w.i32(m.group_sequence);
    w.string(m.correlation_id.as_deref());
    w.bool(m.persistent);
    w.i64(m.expiration);
    w.u8(m.priority);
    dest(w, &m.reply_to);
    w.i64(m.timestamp);
    w.string(m.jms_type.as_deref());
    w.bytes(m.content.as_deref());
    w.bytes(m.properties.as_deref());
    nested(w, m.data_structure.as_ref());
    cons(w, &m.target_consumer_id);
    w.bool(m.compressed);
    w.i32(m.redelivery_counter);
    write_array(w, &m.broker_path);
    w.i64(m.arrival);
    w.string(m.user_id.as_deref());
    w.bool(m.received_by_df_bridge);
    w.bool(m.droppable);
    write_array(w, &m.cluster);
    w.i64(m.broker_in_time);
    w.i64(m.broker_out_time);
    w.bool(m.jmsx_group_first_for_consumer);
    if m.kind == types::BLOB_MESSAGE {
        let b = m.blob.clone().unwrap_or_default();
        w.string(b.remote_blob_url.as_deref());
        w.string(b.mime_type.as_deref());
        w.bool(b.deleted_by_broker);
    }
}
