//! The replication login: both sides prove they know the cluster's `securityToken`, and
//! each checks the other is the node it should be. Pure functions and state machines on
//! the login frames, no I/O; the token file `mqsim up` generates lives here too.
//!
//! # The handshake
//!
//! ```text
//! slave  → master   login     {node_id: S, nonce: Ns, position, last}
//! master → slave    challenge {node_id: M, nonce: Nm}
//! slave  → master   proof     {proof: HMAC(token, "slave"  ‖ Ns ‖ Nm ‖ M ‖ S)}
//! master → slave    ok        {from, master_end, keep,
//!                              proof: HMAC(token, "master" ‖ Ns ‖ Nm ‖ M ‖ S ‖ from ‖ master_end ‖ keep)}
//! ```
//!
//! HMAC-SHA256, every field length-prefixed; nonces are 32 random bytes. The token never
//! crosses the wire. The slave proves first, so a client that merely reaches the master's
//! port learns nothing it could test token guesses against offline; the master checks the
//! proof (and that `S` is a configured node other than itself) before it sends a single
//! journal byte. The slave checks that `M` is the node the election named and that the
//! master's proof covers `from`, before it acts on `from` (`0` means "clear your store").
//! A recorded proof is useless later (the other side's nonce is fresh each time), an echoed
//! nonce is refused, and the `"slave"`/`"master"` labels keep one side's proof from passing
//! as the other's.
//!
//! # Caveats
//!
//! * Only the login is authenticated: the `wal` and `ack` frames after it carry no MAC, so
//!   whoever can rewrite TCP between the nodes (root on the host, or the network in a
//!   multi-host layout) can still tamper with the stream. TLS would be the next step.
//! * The generated token is a file (`<stateDir>/security-token`, mode 0600): any process of
//!   the same user (or root) can read it. A token chosen by hand in `cluster.toml` can be
//!   guessed offline by whoever obtains one proof (a master the slave was tricked into
//!   dialing); generated tokens are 256 random bits.
//! * `insecureReplication = true` skips the proofs (node ids are still checked): anyone who
//!   reaches the port can then read the journal and, with a configured node id, vote.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::wire::{Challenge, Login, LoginOk, MAX_LOGIN_FILES, Proof};
use crate::config::Config;
use crate::error::{Error, Result};

/// Bytes of a nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes of a generated token (before base64).
const TOKEN_LEN: usize = 32;

/// Why a login was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("the nonce is not {NONCE_LEN} bytes of base64")]
    BadNonce,
    #[error("the peer echoed our own nonce")]
    EchoedNonce,
    #[error("the proof does not match: the peer does not know this cluster's securityToken")]
    BadProof,
    #[error("`{0}` is not a node of this cluster")]
    UnknownNode(String),
    #[error("`{0}` is this node's own name")]
    OwnName(String),
    #[error("the peer is `{got}`, but the election named `{expected}`")]
    WrongNode { expected: String, got: String },
    #[error("`from` {from} (or its `keep` list) is not an answer to the slave at {position} and its log files")]
    BadFrom { from: u64, position: u64 },
}

/// The cluster's shared secret, or nothing with `insecureReplication`.
#[derive(Clone)]
pub struct Secret(Option<Arc<[u8]>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Secret(..)" } else { "Secret(insecure)" })
    }
}

impl Secret {
    pub fn new(token: &str) -> Secret {
        Secret(Some(Arc::from(token.as_bytes())))
    }

    /// Logins without proofs (`insecureReplication = true`).
    pub fn insecure() -> Secret {
        Secret(None)
    }

    pub fn is_insecure(&self) -> bool {
        self.0.is_none()
    }

    /// The node's secret: `insecureReplication`, else a non-empty `securityToken`, else the
    /// token file `mqsim up` generated for this state directory.
    pub fn for_cluster(config: &Config) -> Result<Secret> {
        let c = &config.cluster;
        if c.insecure_replication {
            tracing::warn!(
                "insecureReplication = true: replication logins are NOT authenticated; any process that reaches \
                 the master's replication port can read every message and count as a slave"
            );
            return Ok(Secret::insecure());
        }
        if !c.security_token.is_empty() {
            return Ok(Secret::new(&c.security_token));
        }
        let path = token_path(&config.state_dir());
        Ok(Secret::new(&read_token_file(&path)?))
    }

    /// `Secret::mac` as base64, for other challenge–response logins (the supervisors'
    /// control endpoint, crate::hosts::remote); empty when insecure.
    pub fn prove(&self, label: &str, fields: &[&[u8]]) -> String {
        B64.encode(self.mac(label, fields))
    }

    /// Constant-time check of a [`Secret::prove`] proof.
    pub fn check(&self, label: &str, fields: &[&[u8]], proof: &str) -> Result<(), AuthError> {
        self.verify(label, fields, proof)
    }

    /// HMAC over `label` and the length-prefixed `fields`; empty when insecure.
    fn mac(&self, label: &str, fields: &[&[u8]]) -> Vec<u8> {
        match self.keyed(label, fields) {
            Some(m) => m.finalize().into_bytes().to_vec(),
            None => Vec::new(),
        }
    }

    /// Constant-time check of `proof` (base64); anything goes when insecure.
    fn verify(&self, label: &str, fields: &[&[u8]], proof: &str) -> Result<(), AuthError> {
        let Some(m) = self.keyed(label, fields) else { return Ok(()) };
        let proof = B64.decode(proof).map_err(|_| AuthError::BadProof)?;
        m.verify_slice(&proof).map_err(|_| AuthError::BadProof)
    }

    fn keyed(&self, label: &str, fields: &[&[u8]]) -> Option<Hmac<Sha256>> {
        let key = self.0.as_ref()?;
        let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        m.update(label.as_bytes());
        for f in fields {
            m.update(&(f.len() as u64).to_be_bytes());
            m.update(f);
        }
        Some(m)
    }
}

/// 32 fresh random bytes (the thread RNG is a CSPRNG seeded by the OS).
pub fn fresh_nonce() -> [u8; NONCE_LEN] {
    rand::random()
}

pub fn decode_nonce(text: &str) -> Result<[u8; NONCE_LEN], AuthError> {
    if text.len() > 2 * NONCE_LEN {
        return Err(AuthError::BadNonce);
    }
    B64.decode(text).ok().and_then(|v| v.try_into().ok()).ok_or(AuthError::BadNonce)
}

/// The fields both proofs cover.
struct Transcript {
    slave_nonce: [u8; NONCE_LEN],
    master_nonce: [u8; NONCE_LEN],
    master: String,
    slave: String,
}

impl Transcript {
    fn slave_fields(&self) -> [&[u8]; 4] {
        [&self.slave_nonce, &self.master_nonce, self.master.as_bytes(), self.slave.as_bytes()]
    }

    fn master_proof(&self, secret: &Secret, ok: &LoginOk) -> Vec<u8> {
        let [a, b, c, d] = self.slave_fields();
        let (f, e, k) = ok_fields(ok);
        secret.mac("master", &[a, b, c, d, &f, &e, &k])
    }
}

/// `from`, `master_end` and `keep` as the master's proof covers them (`keep` absent and
/// empty differ: a leading byte says which).
fn ok_fields(ok: &LoginOk) -> ([u8; 8], [u8; 8], Vec<u8>) {
    let mut keep = vec![u8::from(ok.keep.is_some())];
    for start in ok.keep.iter().flatten() {
        keep.extend_from_slice(&start.to_be_bytes());
    }
    (ok.from.to_be_bytes(), ok.master_end.to_be_bytes(), keep)
}

/// The master's side, after it received a `login`.
pub struct MasterHandshake {
    secret: Secret,
    t: Transcript,
}

impl MasterHandshake {
    /// Checks the login names a configured node other than `me` and answers with a challenge.
    pub fn on_login(
        secret: &Secret,
        me: &str,
        nodes: &[String],
        login: &Login,
    ) -> Result<(MasterHandshake, Challenge), AuthError> {
        if login.node_id == me {
            return Err(AuthError::OwnName(login.node_id.clone()));
        }
        if !nodes.contains(&login.node_id) {
            return Err(AuthError::UnknownNode(login.node_id.chars().take(80).collect()));
        }
        let slave_nonce = decode_nonce(&login.nonce)?;
        let master_nonce = fresh_nonce();
        if master_nonce == slave_nonce {
            return Err(AuthError::EchoedNonce);
        }
        let challenge = Challenge { node_id: me.to_string(), nonce: B64.encode(master_nonce) };
        let t = Transcript { slave_nonce, master_nonce, master: me.to_string(), slave: login.node_id.clone() };
        Ok((MasterHandshake { secret: secret.clone(), t }, challenge))
    }

    /// Checks the slave's proof. Only the returned [`VerifiedSlave`] may be sent journal bytes.
    pub fn on_proof(self, proof: &Proof) -> Result<VerifiedSlave, AuthError> {
        self.secret.verify("slave", &self.t.slave_fields(), &proof.proof)?;
        Ok(VerifiedSlave { secret: self.secret, t: self.t })
    }
}

/// A slave whose proof checked out.
pub struct VerifiedSlave {
    secret: Secret,
    t: Transcript,
}

impl VerifiedSlave {
    pub fn node_id(&self) -> &str {
        &self.t.slave
    }

    /// The `ok` frame, with the master's proof over `from`, `master_end` and `keep`.
    pub fn ok(&self, from: u64, master_end: u64, keep: Option<Vec<u64>>) -> LoginOk {
        let mut ok = LoginOk { from, master_end, proof: String::new(), keep };
        ok.proof = B64.encode(self.t.master_proof(&self.secret, &ok));
        ok
    }
}

/// The slave's side: it dials the master the election named.
pub struct SlaveHandshake {
    secret: Secret,
    me: String,
    expected_master: String,
    nonce: [u8; NONCE_LEN],
}

impl SlaveHandshake {
    pub fn new(secret: &Secret, me: &str, expected_master: &str) -> SlaveHandshake {
        SlaveHandshake {
            secret: secret.clone(),
            me: me.to_string(),
            expected_master: expected_master.to_string(),
            nonce: fresh_nonce(),
        }
    }

    /// The login; `files` are the slave's log files, newest last (only the newest
    /// [`MAX_LOGIN_FILES`] are sent).
    pub fn login(&self, position: u64, last: Option<(u64, u32)>, files: &[(u64, u32)]) -> Login {
        let files = files[files.len().saturating_sub(MAX_LOGIN_FILES)..].to_vec();
        Login { node_id: self.me.clone(), nonce: B64.encode(self.nonce), position, last, files }
    }

    /// Checks the master is the elected node and answers with this slave's proof.
    pub fn on_challenge(self, challenge: &Challenge) -> Result<(SlaveAwaitingOk, Proof), AuthError> {
        if challenge.node_id != self.expected_master {
            return Err(AuthError::WrongNode {
                expected: self.expected_master,
                got: challenge.node_id.chars().take(80).collect(),
            });
        }
        let master_nonce = decode_nonce(&challenge.nonce)?;
        if master_nonce == self.nonce {
            return Err(AuthError::EchoedNonce);
        }
        let t = Transcript { slave_nonce: self.nonce, master_nonce, master: challenge.node_id.clone(), slave: self.me };
        let proof = Proof { proof: B64.encode(self.secret.mac("slave", &t.slave_fields())) };
        Ok((SlaveAwaitingOk { secret: self.secret, t }, proof))
    }
}

/// The slave sent its proof and waits for the master's.
pub struct SlaveAwaitingOk {
    secret: Secret,
    t: Transcript,
}

impl SlaveAwaitingOk {
    /// Checks the master's proof over `from`/`master_end`/`keep`, and that they are answers
    /// an honest master gives: `from` is `0`, the slave's own `position`, or (with `keep`)
    /// the start of one of the slave's `files`; `keep` lists only files the slave has, before
    /// `from`.
    pub fn on_ok(&self, ok: &LoginOk, position: u64, files: &[(u64, u32)]) -> Result<(), AuthError> {
        let [a, b, c, d] = self.t.slave_fields();
        let (f, e, k) = ok_fields(ok);
        self.secret.verify("master", &[a, b, c, d, &f, &e, &k], &ok.proof)?;
        let mine = |start: u64| files.iter().any(|(s, _)| *s == start);
        let from_ok = match &ok.keep {
            None => ok.from == 0 || ok.from == position,
            Some(keep) => {
                ok.from <= position
                    && (ok.from == position || mine(ok.from))
                    && keep.len() <= MAX_LOGIN_FILES
                    && keep.iter().all(|&s| s < ok.from && mine(s))
            }
        };
        if !from_ok {
            return Err(AuthError::BadFrom { from: ok.from, position });
        }
        Ok(())
    }
}

/// The largest token file read (a generated token is 44 bytes).
const MAX_TOKEN_FILE: u64 = 4096;

/// `<stateDir>/security-token`.
pub fn token_path(state_dir: &Path) -> PathBuf {
    state_dir.join(crate::state_dir::TOKEN)
}

/// Creates the token file with a fresh random token (mode 0600) unless it exists.
/// Returns whether it was created now.
pub fn ensure_token_file(state_dir: &Path) -> Result<bool> {
    let path = token_path(state_dir);
    let token = B64.encode(rand::random::<[u8; TOKEN_LEN]>());
    let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path);
    match file {
        Ok(mut f) => {
            f.write_all(token.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(Error::io(format!("writing {}", path.display())))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_token_file(&path).map(|_| false),
        Err(e) => Err(Error::io(format!("creating {}", path.display()))(e)),
    }
}

/// Reads a token file, refusing one that others may read or that is empty.
pub fn read_token_file(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::InvalidInput(format!(
            "no securityToken: {} cannot be read ({e}); set `securityToken` in cluster.toml or start the \
             cluster with `mqsim up`, which generates that file",
            path.display()
        ))
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::InvalidInput(format!(
            "{} is readable by other users (mode {mode:03o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    if meta.len() > MAX_TOKEN_FILE {
        return Err(Error::InvalidInput(format!(
            "{} is {} bytes; a securityToken file holds one line of at most {MAX_TOKEN_FILE} bytes",
            path.display(),
            meta.len()
        )));
    }
    let token = std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::InvalidInput(format!("{} is empty; delete it and run `mqsim up` again", path.display())));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests;
