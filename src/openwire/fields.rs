//! One description per OpenWire command: [`wire_struct!`] takes a struct whose fields are
//! listed in wire order (ActiveMQ's v12 `*Marshaller.looseMarshal`), each with its wire
//! kind, and generates the struct, `read_fields` (the loose decoder) and `write_fields`
//! (the loose encoder). The field order is written once, in [`super::command`].
//!
//! A wire kind is a module below with `read(r, depth)` and `write(w, &value)`; the type a
//! field declares must be the kind's type, or it does not compile. The kinds call the
//! bounded readers of [`super::marshal`] and [`super::codec`] (nested objects through
//! `read_nested`, with its depth limit; arrays charged to the frame's budget), so a command
//! read through its description is as strictly bounded as one read by hand.
//!
//! Described: 17 command structs (every command body that is a struct: WireFormatInfo,
//! BrokerInfo, ConnectionInfo, ConsumerInfo, ProducerInfo, TransactionInfo, DestinationInfo,
//! RemoveSubscriptionInfo, RemoveInfo, ConnectionError, ConsumerControl, ConnectionControl,
//! ProducerAck, MessagePull, MessageDispatch, MessageAck, Message), a BlobMessage's extra
//! fields, and the ids SessionId, ProducerId, ConsumerId and MessageId.
//!
//! What stays by hand, being irregular: the command header (id, responseRequired; none on
//! WireFormatInfo); a message's type byte and its BlobMessage fields, which only type 29
//! has, after the others; the 10 bodies that are not structs but [`Body`] variants of at
//! most two fields (SessionInfo, ControlCommand, the three empty ones and the five
//! responses); and the nested objects whose type byte carries data or that are not
//! structs: Destination (the byte is its kind), TransactionId (an enum of two layouts),
//! ConnectionId and BrokerId (one string each).

use super::codec::{CodecError, PrimitiveMap, Reader, Writer, malformed, read_map, write_map};
use super::command::*;
use super::{encode as en, marshal as de};

/// `wire_struct! { #[derive(..)] pub struct Name { pub field: Type => kind, ... } }`: the
/// struct as written (without the kinds), and its fields read and written in that order.
macro_rules! wire_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* pub $field:ident: $ty:ty => $kind:ident, )*
        }
    ) => {
        $(#[$m])*
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl $name {
            /// Reads the fields in wire order (the command header is already read).
            pub(super) fn read_fields(
                r: &mut $crate::openwire::codec::Reader<'_>,
                depth: usize,
            ) -> Result<$name, $crate::openwire::codec::CodecError> {
                Ok($name { $( $field: $crate::openwire::fields::$kind::read(r, depth)?, )* })
            }

            /// Writes the fields in wire order (after the command header).
            pub(super) fn write_fields(&self, w: &mut $crate::openwire::codec::Writer) {
                $( $crate::openwire::fields::$kind::write(w, &self.$field); )*
            }
        }
    };
}
pub(super) use wire_struct;

/// `kind!(name: Type, |r, depth| read, |w, value| write)`: one wire kind.
macro_rules! kind {
    ($(#[$m:meta])* $name:ident: $ty:ty, |$r:ident, $d:ident| $read:expr, |$w:ident, $v:ident| $write:expr) => {
        $(#[$m])*
        pub(super) mod $name {
            use super::*;
            pub fn read($r: &mut Reader<'_>, $d: usize) -> Result<$ty, CodecError> {
                let _ = (&$r, $d);
                $read
            }
            // A reference to the field's own type, whatever it is (a `&String` too).
            #[allow(clippy::ptr_arg)]
            pub fn write($w: &mut Writer, $v: &$ty) {
                $write
            }
        }
    };
}

kind!(boolean: bool, |r, d| r.bool(), |w, v| w.bool(*v));
kind!(byte: u8, |r, d| r.u8(), |w, v| w.u8(*v));
kind!(int: i32, |r, d| r.i32(), |w, v| w.i32(*v));
kind!(long: i64, |r, d| r.i64(), |w, v| w.i64(*v));
kind!(
    /// A nullable string: bool, then `writeUTF`.
    string: Option<String>,
    |r, d| r.string(),
    |w, v| w.string(v.as_deref())
);
kind!(
    /// An id's string: written as a nullable string, never null; a null reads as "".
    id_string: String,
    |r, d| Ok(r.string()?.unwrap_or_default()),
    |w, v| w.string(Some(v))
);
kind!(
    /// A nullable byte array: bool, i32 length, bytes.
    bytes: Option<Vec<u8>>,
    |r, d| r.bytes(),
    |w, v| w.bytes(v.as_deref())
);
kind!(
    /// A nullable array of nested objects: bool, i16 count, each nested.
    array: Array,
    |r, d| de::array(r, d),
    |w, v| en::write_array(w, v)
);
kind!(
    /// A throwable without stack trace: bool, class, message.
    throwable: Option<Throwable>,
    |r, d| de::throwable(r),
    |w, v| en::write_throwable(w, v)
);
kind!(
    /// Any nested object: bool, type byte, its fields.
    object: Option<Data>,
    |r, d| de::read_nested(r, d),
    |w, v| en::nested(w, v.as_ref())
);
kind!(destination: Option<Destination>, |r, d| de::destination(r, d), |w, v| en::dest(w, v));
kind!(connection_id: Option<String>, |r, d| de::connection_id(r, d), |w, v| en::conn(w, v));
kind!(consumer_id: Option<ConsumerId>, |r, d| de::consumer_id(r, d), |w, v| en::cons(w, v));
kind!(producer_id: Option<ProducerId>, |r, d| de::producer_id(r, d), |w, v| en::prod(w, v));
kind!(message_id: Option<MessageId>, |r, d| de::message_id(r, d), |w, v| en::msgid(w, v));
kind!(transaction_id: Option<TransactionId>, |r, d| de::transaction_id(r, d), |w, v| en::txid(w, v));
kind!(
    broker_id: Option<String>,
    |r, d| de::broker_id(r, d),
    |w, v| en::nested(w, v.clone().map(Data::BrokerId).as_ref())
);
kind!(
    /// MessageDispatch's message: a nested command that must be a message.
    message: Option<Box<Command>>,
    |r, d| match de::read_nested(r, d)? {
        None => Ok(None),
        Some(Data::Command(c)) if matches!(c.body, Body::Message(_)) => Ok(Some(c)),
        Some(other) => Err(malformed(format!("MessageDispatch of a non-message {other:?}"))),
    },
    |w, v| {
        w.bool(v.is_some());
        if let Some(m) = v {
            w.u8(m.body.type_code());
            en::write_command(w, m);
        }
    }
);
kind!(
    /// WireFormatInfo's 8 magic bytes.
    magic: [u8; 8],
    |r, d| Ok(r.take(8)?.try_into().expect("8 bytes")),
    |w, v| w.buf.extend_from_slice(v)
);
kind!(
    /// WireFormatInfo's properties: a primitive map marshalled into a nullable byte array,
    /// read with the array's own budget and consumed exactly.
    properties: Option<PrimitiveMap>,
    |r, d| match r.bytes()? {
        None => Ok(None),
        Some(b) => {
            let mut pr = Reader::new(&b);
            let m = read_map(&mut pr)?;
            if pr.remaining() != 0 {
                return Err(malformed("trailing bytes in WireFormatInfo properties"));
            }
            Ok(Some(m.unwrap_or_default()))
        }
    },
    |w, v| match v {
        None => w.bool(false),
        Some(p) => {
            let mut m = Writer::default();
            write_map(&mut m, Some(p));
            w.bytes(Some(&m.buf));
        }
    }
);
kind!(
    /// Not here: a BlobMessage's extra fields come after the others, only on type 29;
    /// [`super::marshal`] and [`super::encode`] handle them by hand.
    blob_by_hand: Option<BlobFields>,
    |r, d| Ok(None),
    |w, v| {
        let _ = (w, v);
    }
);
kind!(
    /// Not on the wire: a message's type byte, set from the frame's type by hand.
    type_by_hand: u8,
    |r, d| Ok(0),
    |w, v| {
        let _ = (w, v);
    }
);
