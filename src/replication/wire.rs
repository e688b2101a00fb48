//! Replication frames on byte buffers, no I/O.
//!
//! Like ActiveMQ's `ReplicationProtocolCodec`: an ASCII action line ending in `\n`, a JSON
//! body, a `0x00` byte, and — for `wal` only — the raw journal bytes right after, their
//! length given in the JSON. Header (action + JSON) is limited to 64 KiB.
//!
//! The login is four frames (see [`super::auth`]): the slave's `login` (its nonce), the
//! master's `challenge` (its nonce and node id), the slave's `proof`, and the master's `ok`
//! carrying the master's proof. Nonces and proofs are base64 text in the JSON.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

pub const MAX_HEADER: usize = 64 * 1024;
/// How long a login may take: the master gives a slave this long for the whole handshake,
/// a slave gives the master this long for each answer.
pub const LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A `wal` payload is one or more journal records; bounded so a bad length cannot make us
/// buffer without limit.
pub const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The slave's node name (`[[node]] name`); the master accepts only configured ones.
    pub node_id: String,
    /// The slave's challenge to the master: 32 random bytes, base64.
    pub nonce: String,
    /// The slave's journal end.
    pub position: u64,
    /// The slave's last record `(start, crc32)`, so the master can tell a common prefix.
    pub last: Option<(u64, u32)>,
    /// Where the slave's journal can be checked (at most [`MAX_LOGIN_FILES`], the newest):
    /// `(record start, crc32)` of each log file's first record and of records spaced
    /// 4 KiB, 8 KiB, … before its end, so a master that does not hold what follows the
    /// slave's last record can still find where their journals agree (an incremental
    /// resync).
    #[serde(default)]
    pub files: Vec<(u64, u32)>,
}

/// The most log files a login lists (and an `ok` keeps): the newest ones.
pub const MAX_LOGIN_FILES: usize = 1024;

/// The master's answer to a login: who it is and its own challenge to the slave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The master's node name: the slave checks it is the one the election named.
    pub node_id: String,
    /// 32 random bytes, base64.
    pub nonce: String,
}

/// The slave's HMAC over both nonces and both node ids (base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginOk {
    /// Where the slave's journal must start from: its own end (it is a prefix of the
    /// master's), or 0 (it diverged or is ahead: clear and resync).
    pub from: u64,
    /// The master's journal end at login: the slave is caught up once it reaches it.
    pub master_end: u64,
    /// The master's HMAC over both nonces, both node ids, `from`, `master_end` and `keep`
    /// (base64): the slave acts on `from` only once this checks out.
    pub proof: String,
    /// An incremental resync: the slave cuts its journal at `from` and keeps, of its log
    /// files before `from`, exactly these (the master's, which the slave holds too); it then
    /// rebuilds its index from them and what the master streams (holes and all).
    #[serde(default)]
    pub keep: Option<Vec<u64>>,
}

/// ActiveMQ's LogWrite: a range of the master's journal, whose bytes follow the frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wal {
    /// The log file's start position (its name).
    pub file: u64,
    /// Where the range starts in that file: `file + offset` is its journal position.
    pub offset: u64,
    /// Bytes that follow: whole journal records.
    pub length: u64,
    /// Slave must fsync before acking (`remote_disk`, `quorum_disk`).
    pub sync: bool,
}

impl Wal {
    /// The journal position the range starts at.
    pub fn position(&self) -> u64 {
        self.file + self.offset
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Login(Login),
    Challenge(Challenge),
    Proof(Proof),
    Ok(LoginOk),
    Error(String),
    Wal(Wal, Bytes),
    Ack(Ack),
}

impl Frame {
    /// The action name, for log lines (never the body: a `wal` payload can be large).
    pub fn action(&self) -> &'static str {
        match self {
            Frame::Login(_) => LOGIN,
            Frame::Challenge(_) => "challenge",
            Frame::Proof(_) => "proof",
            Frame::Ok(_) => "ok",
            Frame::Error(_) => "error",
            Frame::Wal(..) => "wal",
            Frame::Ack(_) => "ack",
        }
    }
}

/// The login action, as ActiveMQ named it (v2: the challenge-response login; a v1 login
/// with a clear-text `security_token` is refused as a bad body).
pub const LOGIN: &str = "LevelDB Store Replication v2:login";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("replication frame header larger than {MAX_HEADER} bytes")]
    HeaderTooLarge,
    #[error("replication payload of {0} bytes is too large")]
    PayloadTooLarge(u64),
    #[error("unknown replication action `{0}`")]
    UnknownAction(String),
    #[error("bad replication frame body: {0}")]
    BadBody(String),
}

pub fn encode(frame: &Frame, out: &mut BytesMut) {
    let (action, json, payload) = match frame {
        Frame::Login(l) => (LOGIN, serde_json::to_vec(l), None),
        Frame::Challenge(c) => ("challenge", serde_json::to_vec(c), None),
        Frame::Proof(p) => ("proof", serde_json::to_vec(p), None),
        Frame::Ok(o) => ("ok", serde_json::to_vec(o), None),
        Frame::Error(e) => ("error", serde_json::to_vec(e), None),
        Frame::Wal(w, p) => ("wal", serde_json::to_vec(w), Some(p)),
        Frame::Ack(a) => ("ack", serde_json::to_vec(a), None),
    };
    out.put_slice(action.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(&json.expect("frames serialize"));
    out.put_u8(0);
    if let Some(p) = payload {
        out.put_slice(p);
    }
}

/// Takes one frame off the front of `buf`, or `Ok(None)` if it is not complete yet.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, WireError> {
    // Only the header can hold the NUL that ends it; never scan a payload.
    let Some(nul) = buf.iter().take(MAX_HEADER + 1).position(|&b| b == 0) else {
        return if buf.len() > MAX_HEADER { Err(WireError::HeaderTooLarge) } else { Ok(None) };
    };
    if nul > MAX_HEADER {
        return Err(WireError::HeaderTooLarge);
    }
    let header = &buf[..nul];
    let nl = header.iter().position(|&b| b == b'\n').ok_or_else(|| WireError::BadBody("no action line".into()))?;
    let action = std::str::from_utf8(&header[..nl]).map_err(|_| WireError::BadBody("action is not UTF-8".into()))?;
    let json = &header[nl + 1..];
    let bad = |e: serde_json::Error| WireError::BadBody(e.to_string());
    let frame = match action {
        LOGIN => Frame::Login(serde_json::from_slice(json).map_err(bad)?),
        "challenge" => Frame::Challenge(serde_json::from_slice(json).map_err(bad)?),
        "proof" => Frame::Proof(serde_json::from_slice(json).map_err(bad)?),
        "ok" => Frame::Ok(serde_json::from_slice(json).map_err(bad)?),
        "error" => Frame::Error(serde_json::from_slice(json).map_err(bad)?),
        "ack" => Frame::Ack(serde_json::from_slice(json).map_err(bad)?),
        "wal" => {
            let wal: Wal = serde_json::from_slice(json).map_err(bad)?;
            // A range past the last position: `position()` and the slave's sums would overflow.
            if wal.file.checked_add(wal.offset).and_then(|p| p.checked_add(wal.length)).is_none() {
                return Err(WireError::BadBody(format!("wal range {wal:?} is past the largest position")));
            }
            let len = wal.length;
            if len > MAX_PAYLOAD as u64 {
                return Err(WireError::PayloadTooLarge(len));
            }
            if buf.len() < nul + 1 + len as usize {
                return Ok(None);
            }
            buf.advance(nul + 1);
            let payload = buf.split_to(len as usize).freeze();
            return Ok(Some(Frame::Wal(wal, payload)));
        }
        other => return Err(WireError::UnknownAction(other.chars().take(80).collect())),
    };
    buf.advance(nul + 1);
    Ok(Some(frame))
}

/// tokio-util codec over [`encode`]/[`decode`].
#[derive(Debug, Default)]
pub struct Codec;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl tokio_util::codec::Decoder for Codec {
    type Item = Frame;
    type Error = CodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        Ok(decode(src)?)
    }
}

impl tokio_util::codec::Encoder<Frame> for Codec {
    type Error = CodecError;
    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode(&item, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_wait_for_whole_payloads() {
        let frames = vec![
            Frame::Login(Login {
                node_id: "n".into(),
                nonce: "bm9uY2U".into(),
                position: 9,
                last: Some((3, 77)),
                files: vec![(0, 5)],
            }),
            Frame::Challenge(Challenge { node_id: "m".into(), nonce: "bTI".into() }),
            Frame::Proof(Proof { proof: "cHJvb2Y".into() }),
            Frame::Ok(LoginOk { from: 9, master_end: 20, proof: "cA".into(), keep: Some(vec![0]) }),
            Frame::Wal(Wal { file: 0, offset: 9, length: 5, sync: true }, Bytes::from_static(b"abcde")),
            Frame::Ack(Ack { position: 14 }),
            Frame::Error("Invalid security_token".into()),
        ];
        let mut buf = BytesMut::new();
        for f in &frames {
            encode(f, &mut buf);
        }
        let whole = buf.clone();
        // Byte by byte: never a wrong frame, always all of them in the end.
        let mut fed = BytesMut::new();
        let mut got = Vec::new();
        for b in whole.iter() {
            fed.put_u8(*b);
            while let Some(f) = decode(&mut fed).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        assert!(fed.is_empty());
    }

    #[test]
    fn garbage_is_refused() {
        let mut b = BytesMut::from(&b"hello\n{}\0"[..]);
        assert!(matches!(decode(&mut b), Err(WireError::UnknownAction(_))));
        let mut b = BytesMut::from(&vec![b'x'; MAX_HEADER + 1][..]);
        assert_eq!(decode(&mut b), Err(WireError::HeaderTooLarge));
        // A v1 login (clear-text token, no nonce) is a bad body, not a login.
        let mut b = BytesMut::from(
            &b"LevelDB Store Replication v2:login\n{\"node_id\":\"x\",\"security_token\":\"\",\"position\":0,\"last\":null}\0"[..],
        );
        assert!(matches!(decode(&mut b), Err(WireError::BadBody(_))));
        let mut b = BytesMut::from(&b"wal\n{\"file\":0,\"offset\":0,\"length\":8589934590,\"sync\":false}\0"[..]);
        assert!(matches!(decode(&mut b), Err(WireError::PayloadTooLarge(_))));
    }

    #[test]
    fn a_wal_range_past_the_largest_position_is_refused() {
        for (file, offset, length) in [(u64::MAX, 1, 0), (0, u64::MAX, 1), (1, 1, u64::MAX)] {
            let text = format!("wal\n{{\"file\":{file},\"offset\":{offset},\"length\":{length},\"sync\":false}}\0");
            let mut b = BytesMut::from(text.as_bytes());
            assert!(matches!(decode(&mut b), Err(WireError::BadBody(_))), "{text}");
        }
    }
}
