//! The OpenWire transport connector: accept loop, handshake, keep-alives, and the loop
//! that interleaves client commands with deliveries. Command semantics live in
//! [`super::conn`].
//!
//! Until the client's WireFormatInfo has come, frames may be at most
//! [`limits::OPENWIRE_HANDSHAKE_FRAME`] (64 KiB): a peer that has not even said which
//! protocol it speaks cannot make the broker buffer and decode `maxFrameSize` (100 MiB).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::FramedRead;
use tracing::debug;

use super::advisory::Advisories;
use super::codec::{CodecError, FrameCodec, Value};
use super::command::{Body, BrokerInfo, Command, DestinationInfo, MAGIC, WireFormatInfo};
use super::conn::{Conn, Flow};
use super::marshal;
use crate::broker::{Broker, Delivery};
use crate::config::User;
use crate::limits;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `wireFormat.maxFrameSize`.
    pub max_frame_size: usize,
    /// `maximumConnections`.
    pub max_connections: usize,
    /// Node name, for BrokerInfo.
    pub node: String,
    /// The cluster's brokerName.
    pub broker_name: String,
    /// `[[user]]`: when not empty, ConnectionInfo must name one of them.
    pub users: Vec<User>,
}

/// The frame codec for a new connection: frames up to the handshake limit (or the
/// configured maximum if it is smaller) until the WireFormatInfo has been read.
pub fn handshake_codec(max_frame_size: usize) -> FrameCodec {
    FrameCodec { max_frame_size: max_frame_size.min(limits::OPENWIRE_HANDSHAKE_FRAME) }
}

/// The protocol version mqsim speaks and the oldest it accepts (v10–v12 share field lists).
pub const VERSION: i32 = 12;
pub const MIN_VERSION: i32 = 10;
/// `MaxInactivityDuration` offered: the client then writes a KeepAliveInfo after 10 s idle.
pub const MAX_INACTIVITY_MS: i64 = 30_000;
pub const INITIAL_DELAY_MS: i64 = 10_000;
/// How long a client may take to send its WireFormatInfo (the real broker waits 15 s).
const NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(15);

/// The broker's WireFormatInfo: loose encoding, no cache, no stack traces. The client ANDs
/// the booleans with its own, so this forces the simple encoding whatever it asks for.
pub fn wire_format_info(max_frame_size: usize) -> WireFormatInfo {
    let b = |k: &str, v: bool| (k.to_string(), Value::Bool(v));
    WireFormatInfo {
        magic: MAGIC,
        version: VERSION,
        properties: Some(vec![
            b("TightEncodingEnabled", false),
            b("CacheEnabled", false),
            b("StackTraceEnabled", false),
            b("SizePrefixDisabled", false),
            b("TcpNoDelayEnabled", true),
            ("CacheSize".into(), Value::Int(0)),
            ("MaxInactivityDuration".into(), Value::Long(MAX_INACTIVITY_MS)),
            ("MaxInactivityDurationInitalDelay".into(), Value::Long(INITIAL_DELAY_MS)),
            ("MaxFrameSize".into(), Value::Long(max_frame_size as i64)),
            b("MaxFrameSizeEnabled", true),
            ("ProviderName".into(), Value::String("mqsim".into())),
            ("ProviderVersion".into(), Value::String(env!("CARGO_PKG_VERSION").into())),
        ]),
    }
}

pub fn broker_info(settings: &Settings, local: Option<SocketAddr>) -> BrokerInfo {
    BrokerInfo {
        broker_id: Some(format!("ID:mqsim-{}-{}", settings.broker_name, settings.node)),
        broker_url: local.map(|a| format!("tcp://{a}")),
        broker_name: Some(settings.broker_name.clone()),
        master_broker: true,
        fault_tolerant_configuration: true,
        ..BrokerInfo::default()
    }
}

/// Accepts OpenWire clients until `stop` flips; closing drops every connection.
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, settings: Settings, stop: watch::Receiver<bool>) {
    let max = settings.max_connections;
    let settings = Arc::new(settings);
    let advisories = Arc::new(Advisories::default());
    crate::transport::accept_loop(listener, max, stop, |socket, peer, mut stop| {
        let (broker, settings, advisories) = (broker.clone(), settings.clone(), advisories.clone());
        async move {
            let (tx, rx) = mpsc::unbounded_channel();
            let (adv_tx, adv_rx) = mpsc::unbounded_channel();
            let mut conn = Conn::new(broker, advisories, tx, adv_tx);
            conn.set_limits(settings.users.clone(), settings.max_frame_size);
            tokio::select! {
                _ = connection(socket, peer, &settings, &mut conn, rx, adv_rx) => {}
                _ = stop.changed() => {}
            }
            // However it ended: consumers, transactions and temporary destinations go.
            conn.close_all();
        }
    })
    .await
}

async fn flush(wr: &mut OwnedWriteHalf, conn: &mut Conn) -> std::io::Result<()> {
    if !conn.out.is_empty() {
        wr.write_all(&conn.out).await?;
        conn.out.clear();
    }
    Ok(())
}

async fn connection(
    socket: TcpStream,
    peer: SocketAddr,
    settings: &Settings,
    conn: &mut Conn,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    mut adv_rx: mpsc::UnboundedReceiver<DestinationInfo>,
) {
    let local = socket.local_addr().ok();
    let (rd, mut wr) = socket.into_split();
    let mut frames = FramedRead::new(rd, handshake_codec(settings.max_frame_size));
    match run(&mut frames, &mut wr, &mut rx, &mut adv_rx, conn, settings, local).await {
        Ok(()) => debug!("OpenWire connection from {peer} closed"),
        Err(e) => debug!("OpenWire connection from {peer} closed: {e}"),
    }
    let _ = wr.shutdown().await;
}

/// How long a client may stay silent, from the MaxInactivityDuration it sent (any i64):
/// the smaller of its and ours plus the initial delay; `None` (no check) for 0 or less.
pub fn read_limit(theirs: i64) -> Option<Duration> {
    let inactivity = theirs.min(MAX_INACTIVITY_MS);
    (inactivity > 0).then(|| Duration::from_millis(inactivity.saturating_add(INITIAL_DELAY_MS) as u64))
}

async fn run(
    frames: &mut FramedRead<tokio::net::tcp::OwnedReadHalf, FrameCodec>,
    wr: &mut OwnedWriteHalf,
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    adv_rx: &mut mpsc::UnboundedReceiver<DestinationInfo>,
    conn: &mut Conn,
    settings: &Settings,
    local: Option<SocketAddr>,
) -> Result<(), CodecError> {
    // Our WireFormatInfo goes first: the client sends nothing until it has it.
    marshal::encode(&Command::new(Body::WireFormatInfo(wire_format_info(settings.max_frame_size))), &mut conn.out);
    flush(wr, conn).await?;
    let first = match tokio::time::timeout(NEGOTIATION_TIMEOUT, frames.next()).await {
        Err(_) => return Err(CodecError::Malformed("no WireFormatInfo within 15 s".into())),
        Ok(None) => return Ok(()),
        Ok(Some(f)) => marshal::decode(&f?)?,
    };
    let Body::WireFormatInfo(info) = first.body else {
        return Err(CodecError::Malformed(format!("expected WireFormatInfo, got {}", first.body.name())));
    };
    if info.magic != MAGIC {
        return Err(CodecError::Malformed("bad magic in WireFormatInfo".into()));
    }
    if info.version < MIN_VERSION {
        return Err(CodecError::Malformed(format!(
            "OpenWire version {} is not supported (mqsim speaks {MIN_VERSION} to {VERSION})",
            info.version
        )));
    }
    // Negotiated inactivity: the minimum of both sides; 0 disables the checks.
    let theirs = info
        .properties
        .iter()
        .flatten()
        .find(|(k, _)| k == "MaxInactivityDuration")
        .map(|(_, v)| if let Value::Long(l) = v { *l } else { 0 })
        .unwrap_or(0);
    // Only now may frames be as large as the cluster allows.
    frames.decoder_mut().max_frame_size = settings.max_frame_size;
    let read_limit = read_limit(theirs);
    conn.send(Body::BrokerInfo(Box::new(broker_info(settings, local))));
    flush(wr, conn).await?;

    let write_check = Duration::from_millis((MAX_INACTIVITY_MS / 3) as u64);
    let mut tick = tokio::time::interval(write_check / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last_read, mut last_write) = (Instant::now(), Instant::now());
    loop {
        let pull_deadline = conn.next_pull_deadline();
        tokio::select! {
            frame = frames.next() => {
                last_read = Instant::now();
                let frame = match frame {
                    None => return Ok(()),
                    Some(f) => f?,
                };
                let cmd = marshal::decode(&frame)?;
                if conn.handle(cmd).await == Flow::Close {
                    flush(wr, conn).await?;
                    return Ok(());
                }
            }
            Some(d) = rx.recv() => {
                conn.dispatch(d);
                let mut n = 1;
                while n < 256 {
                    let Ok(d) = rx.try_recv() else { break };
                    conn.dispatch(d);
                    n += 1;
                }
            }
            Some(i) = adv_rx.recv() => conn.advisory(i),
            _ = async { tokio::time::sleep_until(pull_deadline.expect("guarded").into()).await }, if pull_deadline.is_some() => {
                // Deliveries that are already here win over "no message".
                while let Ok(d) = rx.try_recv() {
                    conn.dispatch(d);
                }
                conn.expire_pulls(Instant::now());
            }
            _ = tick.tick() => {
                if let Some(limit) = read_limit && last_read.elapsed() > limit {
                    return Err(CodecError::Malformed(format!("nothing read for {limit:?} (inactivity)")));
                }
                if last_write.elapsed() >= write_check && conn.out.is_empty() {
                    conn.send(Body::KeepAliveInfo);
                }
            }
        }
        if !conn.out.is_empty() {
            flush(wr, conn).await?;
            last_write = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    use super::*;

    #[test]
    fn before_the_handshake_frames_are_small() {
        let mut c = handshake_codec(100 << 20);
        assert_eq!(c.max_frame_size, limits::OPENWIRE_HANDSHAKE_FRAME);
        let mut twenty_mb = BytesMut::from(&(20u32 << 20).to_be_bytes()[..]);
        assert!(matches!(c.decode(&mut twenty_mb), Err(CodecError::TooLarge { .. })));
        assert_eq!(handshake_codec(1024).max_frame_size, 1024, "a smaller maxFrameSize wins");
        // The real WireFormatInfo fits with room to spare.
        let ours = marshal::to_frame(&Command::new(Body::WireFormatInfo(wire_format_info(100 << 20))));
        assert!(ours.len() < limits::OPENWIRE_HANDSHAKE_FRAME / 64);
    }

    #[test]
    fn inactivity_from_any_i64() {
        assert_eq!(read_limit(0), None);
        assert_eq!(read_limit(-1), None);
        assert_eq!(read_limit(i64::MIN), None);
        assert_eq!(read_limit(i64::MAX), Some(Duration::from_millis((MAX_INACTIVITY_MS + INITIAL_DELAY_MS) as u64)));
        assert_eq!(read_limit(1000), Some(Duration::from_millis(1000 + INITIAL_DELAY_MS as u64)));
    }
}
