use super::*;

fn msg(seq: u64) -> StoredMessage {
    StoredMessage {
        seq,
        destination: "/queue/a".into(),
        headers: vec![],
        body: b"hello".to_vec(),
        persistent: true,
        timestamp: 0,
        redelivery_count: 0,
        producer: Some(("p1".into(), seq)),
    }
}

fn enqueue(seq: u64) -> Record {
    Record::Enqueue { store: "a".into(), msg: msg(seq) }
}

#[test]
fn append_index_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let end;
    {
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.position().unwrap(), 0);
        let ends = s.append(&[enqueue(1), enqueue(2)]).unwrap();
        assert_eq!(ends.len(), 2);
        assert_eq!(s.position().unwrap() as u64, ends[1]);
        s.append(&[Record::Dequeue { store: "a".into(), seq: 1 }]).unwrap();
        s.catch_up().unwrap();
        end = s.position().unwrap();
        assert_eq!(s.snapshot().unwrap().audit["p1"], 2);
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.position().unwrap(), end);
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.stores["a"].len(), 1);
    assert_eq!(snap.stores["a"][0].seq, 2);
    assert_eq!(snap.next_seq, 3);
    let id = s.node_id().unwrap();
    assert_eq!(s.node_id().unwrap(), id);
}

#[test]
fn the_index_follows_the_journal_and_replays_what_it_lacks_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.append(&[enqueue(1)]).unwrap();
        s.catch_up().unwrap();
        // Journaled but not yet indexed when the process dies.
        s.append(&[enqueue(2), enqueue(3)]).unwrap();
        assert!(s.indexed() < s.position().unwrap() as u64, "the index lags until it catches up");
        assert_eq!(s.snapshot().unwrap().stores["a"].len(), 3, "a snapshot catches up first");
        s.append(&[enqueue(4)]).unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.indexed(), s.position().unwrap() as u64, "opening replays the journal's tail");
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.stores["a"].len(), 4);
    assert_eq!(snap.audit["p1"], 4);
}

#[test]
fn a_slave_replays_the_same_bytes_to_the_same_index() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = Store::open(d1.path()).unwrap();
    let slave = Store::open(d2.path()).unwrap();
    master.append(&[Record::Subscribe { key: "sub:c:n".into(), topic: "t".into() }]).unwrap();
    master.append(&[Record::Batch(vec![Record::Enqueue { store: "sub:c:n".into(), msg: msg(5) }])]).unwrap();
    let bytes = master.read_journal(0, usize::MAX).unwrap();
    assert_eq!(slave.append_replicated(0, &bytes).unwrap() as i64, master.position().unwrap());
    assert_eq!(slave.last_record().unwrap(), master.last_record().unwrap());
    let (start, crc) = slave.last_record().unwrap().unwrap();
    assert_eq!(master.record_at(start).unwrap(), Some((slave.position().unwrap() as u64, crc)));
    assert_eq!(slave.snapshot().unwrap().stores, master.snapshot().unwrap().stores);
    assert!(slave.append_replicated(0, &bytes).is_err(), "out-of-place append is refused");
    master.append(&[Record::Unsubscribe { key: "sub:c:n".into() }]).unwrap();
    assert!(master.snapshot().unwrap().stores.is_empty());
    slave.clear().unwrap();
    assert_eq!(slave.position().unwrap(), 0);
    assert!(slave.snapshot().unwrap().stores.is_empty());
}

#[test]
fn a_catch_up_racing_a_resync_never_leaves_the_index_ahead_of_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(Store::open(dir.path()).unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, stop2) = (s.clone(), stop.clone());
    // A slave's background catch-up, as often as it can run.
    let indexer = std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            s2.catch_up().unwrap();
        }
    });
    for round in 0..200u64 {
        s.append(&[enqueue(round * 2 + 1), enqueue(round * 2 + 2)]).unwrap();
        if round % 3 == 0 {
            s.clear().unwrap();
        }
        assert!(s.indexed() <= s.position().unwrap() as u64, "round {round}");
    }
    stop.store(true, Ordering::Relaxed);
    indexer.join().unwrap();
    s.catch_up().unwrap();
    assert_eq!(s.indexed(), s.position().unwrap() as u64);
    // The last clear was in round 198: only round 199's two messages are left.
    assert_eq!(s.snapshot().unwrap().stores["a"].len(), 2);
}

#[test]
fn after_a_machine_restart_the_index_is_rebuilt_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.append(&[enqueue(1), enqueue(2)]).unwrap();
        s.sync().unwrap();
        s.catch_up().unwrap();
    }
    // As after an OS crash: another boot id, and an index torn beyond repair.
    std::fs::write(dir.path().join(INDEX_BOOT), "an-earlier-boot").unwrap();
    std::fs::write(dir.path().join("index/data.mdb"), b"torn").unwrap();
    let s = Store::open(dir.path()).unwrap();
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.stores["a"].len(), 2);
    assert_eq!(snap.audit["p1"], 2);
    assert_eq!(std::fs::read_to_string(dir.path().join(INDEX_BOOT)).ok(), boot_id());
}

#[test]
fn an_index_that_does_not_follow_the_journal_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let end;
    {
        let s = Store::open(dir.path()).unwrap();
        s.append(&[enqueue(1), enqueue(2)]).unwrap();
        s.catch_up().unwrap();
        end = s.position().unwrap() as u64;
    }
    // In the same boot: the index claims a position inside a record, then one past the end.
    for bad in [3, end + 1] {
        {
            let index = index::Index::open(&dir.path().join("index")).unwrap();
            let applied = index.applied().unwrap();
            assert_eq!(index.apply(applied, bad, &[]).unwrap(), bad);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.indexed(), end, "rebuilt from position {bad}");
        assert_eq!(s.snapshot().unwrap().stores["a"].len(), 2);
    }
}

#[test]
fn a_store_from_before_the_journal_file_is_migrated() {
    use heed::types::{Bytes, U64};
    let dir = tempfile::tempdir().unwrap();
    {
        // The old layout: the journal inside LMDB at the data directory's root.
        let mut opts = heed::EnvOpenOptions::new();
        opts.max_dbs(8);
        let env = unsafe { opts.open(dir.path()).unwrap() };
        let journal = env
            .create_databases_and_commit(env.write_txn().unwrap(), |dbo, wtxn| -> heed::Result<_> {
                Ok(heed::CommitOrAbort::<_, ()>::Commit(
                    dbo.create_database::<U64<heed::byteorder::BigEndian>, Bytes>(wtxn, Some("journal"))?,
                ))
            })
            .unwrap()
            .unwrap_commit();
        let mut wtxn = env.write_txn().unwrap();
        let mut pos = 0;
        for r in [enqueue(1), enqueue(2), Record::Dequeue { store: "a".into(), seq: 1 }] {
            let bytes = r.encode();
            journal.put(&mut wtxn, &pos, &bytes).unwrap();
            pos += bytes.len() as u64;
        }
        wtxn.commit().unwrap();
        env.prepare_for_closing().wait();
    }
    // A migration that died halfway left a partial journal: it is redone from the old store.
    std::fs::write(dir.path().join("0000000000000000.log.migrating"), b"*partial").unwrap();
    let s = Store::open(dir.path()).unwrap();
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.stores["a"].iter().map(|m| m.seq).collect::<Vec<_>>(), vec![2]);
    assert!(!dir.path().join("0000000000000000.log.migrating").exists());
    assert!(!dir.path().join("data.mdb").exists(), "the old environment is gone");
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.snapshot().unwrap().stores["a"].len(), 1, "and the migration is not repeated");
}
