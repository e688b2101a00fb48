//! The login state machines, driven with good and forged frames.

use super::*;

fn nodes() -> Vec<String> {
    ["node01", "node02", "node03"].map(String::from).to_vec()
}

/// One whole login between master `node01` and slave `node02`; returns the slave's view
/// of the master's `ok` check.
fn login(slave_secret: &Secret, master_secret: &Secret, from: u64) -> Result<(), AuthError> {
    let slave = SlaveHandshake::new(slave_secret, "node02", "node01");
    let (master, challenge) = MasterHandshake::on_login(master_secret, "node01", &nodes(), &slave.login(7, None, &[]))?;
    let (waiting, proof) = slave.on_challenge(&challenge)?;
    let verified = master.on_proof(&proof)?;
    assert_eq!(verified.node_id(), "node02");
    waiting.on_ok(&verified.ok(from, 9, None), 7, &[])
}

#[test]
fn good_proofs_are_accepted_both_ways() {
    let s = Secret::new("s3cret");
    assert_eq!(login(&s, &s, 7), Ok(()));
    assert_eq!(login(&s, &s, 0), Ok(()), "a proven `from: 0` is a resync the slave may act on");
    let i = Secret::insecure();
    assert_eq!(login(&i, &i, 7), Ok(()), "insecureReplication: no proofs, node ids still checked");
}

#[test]
fn a_wrong_token_fails_on_either_side() {
    // The slave proves first: a slave with the wrong token is refused before any `ok`.
    assert_eq!(login(&Secret::new("wrong"), &Secret::new("right"), 7), Err(AuthError::BadProof));
    assert_eq!(login(&Secret::new(""), &Secret::new("right"), 7), Err(AuthError::BadProof));
    // A fake master without the token: the slave refuses its `ok` (and so never clears).
    let slave = SlaveHandshake::new(&Secret::new("right"), "node02", "node01");
    let fake = Secret::new("guess");
    let (master, challenge) = MasterHandshake::on_login(&fake, "node01", &nodes(), &slave.login(7, None, &[])).unwrap();
    let (waiting, _proof) = slave.on_challenge(&challenge).unwrap();
    // The fake master cannot check the proof either, so pretend it accepted.
    let forged = MasterHandshake { secret: fake.clone(), t: master.t }.on_proof(&Proof { proof: String::new() });
    assert!(forged.is_err(), "an empty proof never passes");
    let ok = LoginOk { from: 0, master_end: 0, proof: B64.encode(fake.mac("master", &[b"x"])), keep: None };
    assert_eq!(waiting.on_ok(&ok, 7, &[]), Err(AuthError::BadProof));
    // Insecure on one side only fails too.
    assert_eq!(login(&Secret::insecure(), &Secret::new("right"), 7), Err(AuthError::BadProof));
    assert_eq!(login(&Secret::new("right"), &Secret::insecure(), 7), Err(AuthError::BadProof));
}

#[test]
fn old_protocol_answers_and_tampered_oks_are_refused() {
    let s = Secret::new("t");
    let slave = SlaveHandshake::new(&s, "node02", "node01");
    let (master, challenge) = MasterHandshake::on_login(&s, "node01", &nodes(), &slave.login(7, None, &[])).unwrap();
    let (waiting, proof) = slave.on_challenge(&challenge).unwrap();
    let verified = master.on_proof(&proof).unwrap();
    // The v1 answer a forger sent: no proof at all.
    let v1 = LoginOk { from: 0, master_end: 0, proof: String::new(), keep: None };
    assert_eq!(waiting.on_ok(&v1, 7, &[]), Err(AuthError::BadProof));
    // A genuine proof for `from: 7` does not cover a `from: 0` swapped in on the way.
    let mut ok = verified.ok(7, 9, None);
    ok.from = 0;
    assert_eq!(waiting.on_ok(&ok, 7, &[]), Err(AuthError::BadProof));
    // An honest master only ever says 0 or the slave's own position.
    assert_eq!(waiting.on_ok(&verified.ok(5, 9, None), 7, &[]), Err(AuthError::BadFrom { from: 5, position: 7 }));
    assert_eq!(waiting.on_ok(&verified.ok(7, 9, None), 7, &[]), Ok(()));
}

#[test]
fn replayed_and_echoed_nonces_are_refused() {
    let s = Secret::new("t");
    // Record one session's slave proof, then replay it against a fresh master challenge.
    let slave = SlaveHandshake::new(&s, "node02", "node01");
    let login1 = slave.login(0, None, &[]);
    let (_m1, c1) = MasterHandshake::on_login(&s, "node01", &nodes(), &login1).unwrap();
    let (_w, recorded) = slave.on_challenge(&c1).unwrap();
    let (m2, _c2) = MasterHandshake::on_login(&s, "node01", &nodes(), &login1).unwrap();
    assert_eq!(m2.on_proof(&recorded).err(), Some(AuthError::BadProof), "the master's nonce is fresh each time");

    // Record a master's ok, replay it to another session of the slave.
    let slave = SlaveHandshake::new(&s, "node02", "node01");
    let (m, c) = MasterHandshake::on_login(&s, "node01", &nodes(), &slave.login(0, None, &[])).unwrap();
    let (_w, p) = slave.on_challenge(&c).unwrap();
    let recorded_ok = m.on_proof(&p).unwrap().ok(0, 0, None);
    let slave2 = SlaveHandshake::new(&s, "node02", "node01");
    let (_m, c2) = MasterHandshake::on_login(&s, "node01", &nodes(), &slave2.login(0, None, &[])).unwrap();
    let (w2, _p2) = slave2.on_challenge(&c2).unwrap();
    assert_eq!(w2.on_ok(&recorded_ok, 0, &[]), Err(AuthError::BadProof), "the slave's nonce is fresh each time");

    // A fake master that echoes the slave's nonce back (reflection).
    let slave = SlaveHandshake::new(&s, "node02", "node01");
    let login = slave.login(0, None, &[]);
    let echo = Challenge { node_id: "node01".into(), nonce: login.nonce.clone() };
    assert_eq!(slave.on_challenge(&echo).err(), Some(AuthError::EchoedNonce));

    // The master's proof label differs from the slave's: one never passes as the other.
    let slave = SlaveHandshake::new(&s, "node02", "node01");
    let (m, c) = MasterHandshake::on_login(&s, "node01", &nodes(), &slave.login(0, None, &[])).unwrap();
    let as_master = Proof { proof: B64.encode(s.mac("master", &m.t.slave_fields())) };
    assert_eq!(m.on_proof(&as_master).err(), Some(AuthError::BadProof));
    drop(c);
}

#[test]
fn node_ids_are_checked() {
    let s = Secret::new("t");
    // The master accepts only configured names other than its own.
    for (id, err) in [
        ("node09", AuthError::UnknownNode("node09".into())),
        ("", AuthError::UnknownNode("".into())),
        ("node01", AuthError::OwnName("node01".into())),
    ] {
        let slave = SlaveHandshake::new(&s, id, "node01");
        assert_eq!(MasterHandshake::on_login(&s, "node01", &nodes(), &slave.login(0, None, &[])).err(), Some(err));
    }
    // The slave accepts only the master the election named, even one that knows the token.
    let slave = SlaveHandshake::new(&s, "node02", "node01");
    let (_m, challenge) = MasterHandshake::on_login(&s, "node03", &nodes(), &slave.login(0, None, &[])).unwrap();
    assert_eq!(
        slave.on_challenge(&challenge).err(),
        Some(AuthError::WrongNode { expected: "node01".into(), got: "node03".into() })
    );
    // Garbage nonces.
    for nonce in ["", "!!!!", "AAAA", &"A".repeat(10_000)] {
        let login = Login { node_id: "node02".into(), nonce: nonce.into(), position: 0, last: None, files: vec![] };
        assert_eq!(MasterHandshake::on_login(&s, "node01", &nodes(), &login).err(), Some(AuthError::BadNonce));
    }
}

#[test]
fn the_token_file_is_created_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    assert!(ensure_token_file(dir.path()).unwrap(), "created the first time");
    let path = token_path(dir.path());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = read_token_file(&path).unwrap();
    assert!(token.len() >= 43, "256 random bits: {token}");
    assert!(!ensure_token_file(dir.path()).unwrap(), "reused later");
    assert_eq!(read_token_file(&path).unwrap(), token);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = read_token_file(&path).unwrap_err().to_string();
    assert!(e.contains("readable by other users"), "{e}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, "  \n").unwrap();
    assert!(read_token_file(&path).unwrap_err().to_string().contains("empty"));
    std::fs::write(&path, vec![b'x'; 1 << 20]).unwrap();
    let e = read_token_file(&path).unwrap_err().to_string();
    assert!(e.contains("at most 4096 bytes"), "an oversized token file is refused unread: {e}");
    let e = read_token_file(&dir.path().join("missing")).unwrap_err().to_string();
    assert!(e.contains("mqsim up"), "{e}");
}
