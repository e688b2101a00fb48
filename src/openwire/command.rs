//! The OpenWire commands and data structures mqsim reads and writes (protocol version 12;
//! versions 10 and 11 have the same fields). Plain data: [`super::marshal`] turns them into
//! bytes and back, field for field in the order of ActiveMQ's v12 marshallers.
//!
//! Each command struct is a `wire_struct!` description: its fields in wire order with
//! their wire kinds (`fields.rs`), from which the struct, its decoder and its encoder
//! are generated, so the order is written here only.

use super::codec::PrimitiveMap;
use super::fields::wire_struct;

/// Type codes (`CommandTypes.java`).
pub mod types {
    pub const WIRE_FORMAT_INFO: u8 = 1;
    pub const BROKER_INFO: u8 = 2;
    pub const CONNECTION_INFO: u8 = 3;
    pub const SESSION_INFO: u8 = 4;
    pub const CONSUMER_INFO: u8 = 5;
    pub const PRODUCER_INFO: u8 = 6;
    pub const TRANSACTION_INFO: u8 = 7;
    pub const DESTINATION_INFO: u8 = 8;
    pub const REMOVE_SUBSCRIPTION_INFO: u8 = 9;
    pub const KEEP_ALIVE_INFO: u8 = 10;
    pub const SHUTDOWN_INFO: u8 = 11;
    pub const REMOVE_INFO: u8 = 12;
    pub const CONTROL_COMMAND: u8 = 14;
    pub const FLUSH_COMMAND: u8 = 15;
    pub const CONNECTION_ERROR: u8 = 16;
    pub const CONSUMER_CONTROL: u8 = 17;
    pub const CONNECTION_CONTROL: u8 = 18;
    pub const PRODUCER_ACK: u8 = 19;
    pub const MESSAGE_PULL: u8 = 20;
    pub const MESSAGE_DISPATCH: u8 = 21;
    pub const MESSAGE_ACK: u8 = 22;
    pub const MESSAGE: u8 = 23;
    pub const BYTES_MESSAGE: u8 = 24;
    pub const MAP_MESSAGE: u8 = 25;
    pub const OBJECT_MESSAGE: u8 = 26;
    pub const STREAM_MESSAGE: u8 = 27;
    pub const TEXT_MESSAGE: u8 = 28;
    pub const BLOB_MESSAGE: u8 = 29;
    pub const RESPONSE: u8 = 30;
    pub const EXCEPTION_RESPONSE: u8 = 31;
    pub const DATA_RESPONSE: u8 = 32;
    pub const DATA_ARRAY_RESPONSE: u8 = 33;
    pub const INTEGER_RESPONSE: u8 = 34;
    pub const QUEUE: u8 = 100;
    pub const TOPIC: u8 = 101;
    pub const TEMP_QUEUE: u8 = 102;
    pub const TEMP_TOPIC: u8 = 103;
    pub const MESSAGE_ID: u8 = 110;
    pub const LOCAL_TRANSACTION_ID: u8 = 111;
    pub const XA_TRANSACTION_ID: u8 = 112;
    pub const CONNECTION_ID: u8 = 120;
    pub const SESSION_ID: u8 = 121;
    pub const CONSUMER_ID: u8 = 122;
    pub const PRODUCER_ID: u8 = 123;
    pub const BROKER_ID: u8 = 124;
}

/// `MessageAck.ackType`.
pub mod ack {
    pub const DELIVERED: u8 = 0;
    pub const POISON: u8 = 1;
    pub const STANDARD: u8 = 2;
    pub const REDELIVERED: u8 = 3;
    pub const INDIVIDUAL: u8 = 4;
    pub const UNMATCHED: u8 = 5;
    pub const EXPIRED: u8 = 6;
}

/// `TransactionInfo.type`.
pub mod tx {
    pub const BEGIN: u8 = 0;
    pub const PREPARE: u8 = 1;
    pub const COMMIT_ONE_PHASE: u8 = 2;
    pub const COMMIT_TWO_PHASE: u8 = 3;
    pub const ROLLBACK: u8 = 4;
    pub const RECOVER: u8 = 5;
    pub const FORGET: u8 = 6;
    pub const END: u8 = 7;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestKind {
    Queue,
    Topic,
    TempQueue,
    TempTopic,
}

impl DestKind {
    pub fn type_code(self) -> u8 {
        match self {
            DestKind::Queue => types::QUEUE,
            DestKind::Topic => types::TOPIC,
            DestKind::TempQueue => types::TEMP_QUEUE,
            DestKind::TempTopic => types::TEMP_TOPIC,
        }
    }
    pub fn is_topic(self) -> bool {
        matches!(self, DestKind::Topic | DestKind::TempTopic)
    }
    pub fn is_temp(self) -> bool {
        matches!(self, DestKind::TempQueue | DestKind::TempTopic)
    }
}

/// `ActiveMQDestination`: a kind and its physical name (`a,b` is a composite).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub kind: DestKind,
    pub name: String,
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct SessionId {
        pub connection: String => id_string,
        pub value: i64 => long,
    }
}

wire_struct! {
    /// Wire order: connection, value, session.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct ProducerId {
        pub connection: String => id_string,
        pub value: i64 => long,
        pub session: i64 => long,
    }
}

impl ProducerId {
    /// `ProducerId.toString()`: `connection:session:value`.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.connection, self.session, self.value)
    }
    pub fn parse(key: &str) -> Option<ProducerId> {
        let (rest, value) = key.rsplit_once(':')?;
        let (connection, session) = rest.rsplit_once(':')?;
        Some(ProducerId { connection: connection.into(), value: value.parse().ok()?, session: session.parse().ok()? })
    }
}

wire_struct! {
    /// Wire order: connection, session, value (not ProducerId's order).
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct ConsumerId {
        pub connection: String => id_string,
        pub session: i64 => long,
        pub value: i64 => long,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct MessageId {
        pub text_view: Option<String> => string,
        pub producer: Option<ProducerId> => producer_id,
        pub producer_seq: i64 => long,
        pub broker_seq: i64 => long,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransactionId {
    Local { value: i64, connection: Option<String> },
    Xa { format: i32, global: Option<Vec<u8>>, branch: Option<Vec<u8>> },
}

/// A Java exception as it travels without stack traces: class name and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throwable {
    pub class: Option<String>,
    pub message: Option<String>,
}

impl Throwable {
    pub fn new(class: &str, message: impl Into<String>) -> Throwable {
        Throwable { class: Some(class.into()), message: Some(message.into()) }
    }
}

/// Any nested object: a structure or a whole command (DestinationInfo in an advisory).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Destination(Destination),
    ConnectionId(String),
    SessionId(SessionId),
    ConsumerId(ConsumerId),
    ProducerId(ProducerId),
    BrokerId(String),
    MessageId(MessageId),
    TransactionId(TransactionId),
    Command(Box<Command>),
}

/// A nullable array of nested objects (brokerPath, cluster, peerBrokerInfos, ...).
pub type Array = Option<Vec<Option<Data>>>;

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct WireFormatInfo {
        pub magic: [u8; 8] => magic,
        pub version: i32 => int,
        pub properties: Option<PrimitiveMap> => properties,
    }
}

pub const MAGIC: [u8; 8] = *b"ActiveMQ";

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct BrokerInfo {
        pub broker_id: Option<String> => broker_id,
        pub broker_url: Option<String> => string,
        pub peer_broker_infos: Array => array,
        pub broker_name: Option<String> => string,
        pub slave_broker: bool => boolean,
        pub master_broker: bool => boolean,
        pub fault_tolerant_configuration: bool => boolean,
        pub duplex_connection: bool => boolean,
        pub network_connection: bool => boolean,
        pub connection_id: i64 => long,
        pub broker_upload_url: Option<String> => string,
        pub network_properties: Option<String> => string,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct ConnectionInfo {
        pub connection_id: Option<String> => connection_id,
        pub client_id: Option<String> => string,
        pub password: Option<String> => string,
        pub user_name: Option<String> => string,
        pub broker_path: Array => array,
        pub broker_master_connector: bool => boolean,
        pub manageable: bool => boolean,
        pub client_master: bool => boolean,
        pub fault_tolerant: bool => boolean,
        pub failover_reconnect: bool => boolean,
        pub client_ip: Option<String> => string,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct ConsumerInfo {
        pub consumer_id: Option<ConsumerId> => consumer_id,
        pub browser: bool => boolean,
        pub destination: Option<Destination> => destination,
        pub prefetch_size: i32 => int,
        pub maximum_pending_message_limit: i32 => int,
        pub dispatch_async: bool => boolean,
        pub selector: Option<String> => string,
        pub client_id: Option<String> => string,
        pub subscription_name: Option<String> => string,
        pub no_local: bool => boolean,
        pub exclusive: bool => boolean,
        pub retroactive: bool => boolean,
        pub priority: u8 => byte,
        pub broker_path: Array => array,
        pub additional_predicate: Option<Data> => object,
        pub network_subscription: bool => boolean,
        pub optimized_acknowledge: bool => boolean,
        pub no_range_acks: bool => boolean,
        pub network_consumer_path: Array => array,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct ProducerInfo {
        pub producer_id: Option<ProducerId> => producer_id,
        pub destination: Option<Destination> => destination,
        pub broker_path: Array => array,
        pub dispatch_async: bool => boolean,
        pub window_size: i32 => int,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct TransactionInfo {
        pub connection_id: Option<String> => connection_id,
        pub transaction_id: Option<TransactionId> => transaction_id,
        pub kind: u8 => byte,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct DestinationInfo {
        pub connection_id: Option<String> => connection_id,
        pub destination: Option<Destination> => destination,
        /// 0 add, 1 remove.
        pub operation: u8 => byte,
        pub timeout: i64 => long,
        pub broker_path: Array => array,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct RemoveSubscriptionInfo {
        pub connection_id: Option<String> => connection_id,
        pub subscription_name: Option<String> => string,
        pub client_id: Option<String> => string,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct RemoveInfo {
        pub object_id: Option<Data> => object,
        pub last_delivered_sequence_id: i64 => long,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct ConnectionError {
        pub exception: Option<Throwable> => throwable,
        pub connection_id: Option<String> => connection_id,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct ConsumerControl {
        pub destination: Option<Destination> => destination,
        pub close: bool => boolean,
        pub consumer_id: Option<ConsumerId> => consumer_id,
        pub prefetch: i32 => int,
        pub flush: bool => boolean,
        pub start: bool => boolean,
        pub stop: bool => boolean,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct ConnectionControl {
        pub close: bool => boolean,
        pub exit: bool => boolean,
        pub fault_tolerant: bool => boolean,
        pub resume: bool => boolean,
        pub suspend: bool => boolean,
        pub connected_brokers: Option<String> => string,
        pub reconnect_to: Option<String> => string,
        pub rebalance_connection: bool => boolean,
        pub token: Option<Vec<u8>> => bytes,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct ProducerAck {
        pub producer_id: Option<ProducerId> => producer_id,
        pub size: i32 => int,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct MessagePull {
        pub consumer_id: Option<ConsumerId> => consumer_id,
        pub destination: Option<Destination> => destination,
        pub timeout: i64 => long,
        pub correlation_id: Option<String> => string,
        pub message_id: Option<MessageId> => message_id,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct MessageDispatch {
        pub consumer_id: Option<ConsumerId> => consumer_id,
        pub destination: Option<Destination> => destination,
        pub message: Option<Box<Command>> => message,
        pub redelivery_counter: i32 => int,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct MessageAck {
        pub destination: Option<Destination> => destination,
        pub transaction_id: Option<TransactionId> => transaction_id,
        pub consumer_id: Option<ConsumerId> => consumer_id,
        pub ack_type: u8 => byte,
        pub first_message_id: Option<MessageId> => message_id,
        pub last_message_id: Option<MessageId> => message_id,
        pub message_count: i32 => int,
        pub poison_cause: Option<Throwable> => throwable,
    }
}

wire_struct! {
    /// The extra fields of an ActiveMQBlobMessage (type 29), after a message's others.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct BlobFields {
        pub remote_blob_url: Option<String> => string,
        pub mime_type: Option<String> => string,
        pub deleted_by_broker: bool => boolean,
    }
}

wire_struct! {
    /// A message, types 23–29; `kind` keeps the type so the body passes through unread.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Message {
        pub kind: u8 => type_by_hand,
        pub producer_id: Option<ProducerId> => producer_id,
        pub destination: Option<Destination> => destination,
        pub transaction_id: Option<TransactionId> => transaction_id,
        pub original_destination: Option<Destination> => destination,
        pub message_id: Option<MessageId> => message_id,
        pub original_transaction_id: Option<TransactionId> => transaction_id,
        pub group_id: Option<String> => string,
        pub group_sequence: i32 => int,
        pub correlation_id: Option<String> => string,
        pub persistent: bool => boolean,
        pub expiration: i64 => long,
        pub priority: u8 => byte,
        pub reply_to: Option<Destination> => destination,
        pub timestamp: i64 => long,
        pub jms_type: Option<String> => string,
        pub content: Option<Vec<u8>> => bytes,
        /// A marshalled primitive map (see [`super::codec::read_map`]).
        pub properties: Option<Vec<u8>> => bytes,
        pub data_structure: Option<Data> => object,
        pub target_consumer_id: Option<ConsumerId> => consumer_id,
        pub compressed: bool => boolean,
        pub redelivery_counter: i32 => int,
        pub broker_path: Array => array,
        pub arrival: i64 => long,
        pub user_id: Option<String> => string,
        pub received_by_df_bridge: bool => boolean,
        pub droppable: bool => boolean,
        pub cluster: Array => array,
        pub broker_in_time: i64 => long,
        pub broker_out_time: i64 => long,
        pub jmsx_group_first_for_consumer: bool => boolean,
        pub blob: Option<BlobFields> => blob_by_hand,
    }
}

/// Every command but WireFormatInfo carries a command id and the responseRequired flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub id: i32,
    pub response_required: bool,
    pub body: Body,
}

impl Command {
    pub fn new(body: Body) -> Command {
        Command { id: 0, response_required: false, body }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    WireFormatInfo(WireFormatInfo),
    BrokerInfo(Box<BrokerInfo>),
    ConnectionInfo(Box<ConnectionInfo>),
    SessionInfo(Option<SessionId>),
    ConsumerInfo(Box<ConsumerInfo>),
    ProducerInfo(Box<ProducerInfo>),
    TransactionInfo(TransactionInfo),
    DestinationInfo(Box<DestinationInfo>),
    RemoveSubscriptionInfo(RemoveSubscriptionInfo),
    KeepAliveInfo,
    ShutdownInfo,
    RemoveInfo(RemoveInfo),
    ControlCommand(Option<String>),
    FlushCommand,
    ConnectionError(ConnectionError),
    ConsumerControl(ConsumerControl),
    ConnectionControl(ConnectionControl),
    ProducerAck(ProducerAck),
    MessagePull(MessagePull),
    MessageDispatch(Box<MessageDispatch>),
    MessageAck(Box<MessageAck>),
    Message(Box<Message>),
    Response { correlation_id: i32 },
    ExceptionResponse { correlation_id: i32, exception: Option<Throwable> },
    DataResponse { correlation_id: i32, data: Option<Box<Data>> },
    DataArrayResponse { correlation_id: i32, data: Array },
    IntegerResponse { correlation_id: i32, result: i32 },
}

impl Body {
    pub fn type_code(&self) -> u8 {
        use types::*;
        match self {
            Body::WireFormatInfo(_) => WIRE_FORMAT_INFO,
            Body::BrokerInfo(_) => BROKER_INFO,
            Body::ConnectionInfo(_) => CONNECTION_INFO,
            Body::SessionInfo(_) => SESSION_INFO,
            Body::ConsumerInfo(_) => CONSUMER_INFO,
            Body::ProducerInfo(_) => PRODUCER_INFO,
            Body::TransactionInfo(_) => TRANSACTION_INFO,
            Body::DestinationInfo(_) => DESTINATION_INFO,
            Body::RemoveSubscriptionInfo(_) => REMOVE_SUBSCRIPTION_INFO,
            Body::KeepAliveInfo => KEEP_ALIVE_INFO,
            Body::ShutdownInfo => SHUTDOWN_INFO,
            Body::RemoveInfo(_) => REMOVE_INFO,
            Body::ControlCommand(_) => CONTROL_COMMAND,
            Body::FlushCommand => FLUSH_COMMAND,
            Body::ConnectionError(_) => CONNECTION_ERROR,
            Body::ConsumerControl(_) => CONSUMER_CONTROL,
            Body::ConnectionControl(_) => CONNECTION_CONTROL,
            Body::ProducerAck(_) => PRODUCER_ACK,
            Body::MessagePull(_) => MESSAGE_PULL,
            Body::MessageDispatch(_) => MESSAGE_DISPATCH,
            Body::MessageAck(_) => MESSAGE_ACK,
            Body::Message(m) => m.kind,
            Body::Response { .. } => RESPONSE,
            Body::ExceptionResponse { .. } => EXCEPTION_RESPONSE,
            Body::DataResponse { .. } => DATA_RESPONSE,
            Body::DataArrayResponse { .. } => DATA_ARRAY_RESPONSE,
            Body::IntegerResponse { .. } => INTEGER_RESPONSE,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Body::WireFormatInfo(_) => "WireFormatInfo",
            Body::BrokerInfo(_) => "BrokerInfo",
            Body::ConnectionInfo(_) => "ConnectionInfo",
            Body::SessionInfo(_) => "SessionInfo",
            Body::ConsumerInfo(_) => "ConsumerInfo",
            Body::ProducerInfo(_) => "ProducerInfo",
            Body::TransactionInfo(_) => "TransactionInfo",
            Body::DestinationInfo(_) => "DestinationInfo",
            Body::RemoveSubscriptionInfo(_) => "RemoveSubscriptionInfo",
            Body::KeepAliveInfo => "KeepAliveInfo",
            Body::ShutdownInfo => "ShutdownInfo",
            Body::RemoveInfo(_) => "RemoveInfo",
            Body::ControlCommand(_) => "ControlCommand",
            Body::FlushCommand => "FlushCommand",
            Body::ConnectionError(_) => "ConnectionError",
            Body::ConsumerControl(_) => "ConsumerControl",
            Body::ConnectionControl(_) => "ConnectionControl",
            Body::ProducerAck(_) => "ProducerAck",
            Body::MessagePull(_) => "MessagePull",
            Body::MessageDispatch(_) => "MessageDispatch",
            Body::MessageAck(_) => "MessageAck",
            Body::Message(_) => "Message",
            Body::Response { .. } => "Response",
            Body::ExceptionResponse { .. } => "ExceptionResponse",
            Body::DataResponse { .. } => "DataResponse",
            Body::DataArrayResponse { .. } => "DataArrayResponse",
            Body::IntegerResponse { .. } => "IntegerResponse",
        }
    }
}
