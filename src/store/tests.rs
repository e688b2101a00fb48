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
    let bytes = master.read_journal(0, usize::MAX).unwrap().unwrap().bytes;
    assert_eq!(slave.append_replicated(0, 0, &bytes).unwrap() as i64, master.position().unwrap());
    assert_eq!(slave.last_record().unwrap(), master.last_record().unwrap());
    let (start, crc) = slave.last_record().unwrap().unwrap();
    assert_eq!(master.record_at(start).unwrap(), Some((slave.position().unwrap() as u64, crc)));
    assert_eq!(slave.snapshot().unwrap().stores, master.snapshot().unwrap().stores);
    assert!(slave.append_replicated(0, 0, &bytes).is_err(), "out-of-place append is refused");
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
            assert_eq!(index.apply(applied, bad, 0, &[]).unwrap().applied, bad);
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
    std::fs::create_dir_all(dir.path().join("journal.migrating")).unwrap();
    std::fs::write(dir.path().join("journal.migrating/0000000000000000.log"), b"*partial").unwrap();
    let s = Store::open(dir.path()).unwrap();
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.stores["a"].iter().map(|m| m.seq).collect::<Vec<_>>(), vec![2]);
    assert!(!dir.path().join("journal.migrating").exists());
    assert!(!dir.path().join("data.mdb").exists(), "the old environment is gone");
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.snapshot().unwrap().stores["a"].len(), 1, "and the migration is not repeated");
}

fn enqueue_to(store: &str, seq: u64) -> Record {
    Record::Enqueue { store: store.into(), msg: StoredMessage { destination: format!("/queue/{store}"), ..msg(seq) } }
}

/// Row 2 of issue 11: `/queue/` + 600 × `q` was acknowledged, then broke the index.
#[test]
fn a_record_the_index_cannot_store_is_refused_before_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.append(&[enqueue(1)]).unwrap();
    let end = s.position().unwrap();
    let long = "q".repeat(600);
    let e = s.append(&[enqueue(2), enqueue_to(&long, 3)]).unwrap_err().to_string();
    assert!(e.contains("600 bytes"), "{e}");
    let e = s.append(&[Record::Batch(vec![enqueue(4), Record::Dequeue { store: long, seq: 1 }])]).unwrap_err();
    assert!(e.to_string().contains("600 bytes"), "{e}");
    assert_eq!(s.position().unwrap(), end, "nothing of a refused write reaches the journal");
    s.catch_up().unwrap();
    assert_eq!(s.quarantined(), 0);
}

/// A journal written by mqsim before the check (or by a peer that lacks it) still opens:
/// the records the index cannot take are skipped and kept aside, every other one counts.
#[test]
fn a_journal_holding_records_the_index_cannot_take_opens_with_them_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let long = "q".repeat(600);
    let bad_at;
    {
        let s = Store::open(dir.path()).unwrap();
        s.append(&[enqueue(1)]).unwrap();
        bad_at = s.position().unwrap() as u64;
        // Straight into the journal, as the old code appended them.
        let records = [
            enqueue_to(&long, 2).encode(),
            b"\x09not a record".to_vec(),
            Record::Batch(vec![enqueue(3), Record::Subscribe { key: long.clone(), topic: "t".into() }, enqueue(4)])
                .encode(),
            Record::Enqueue { store: "a".into(), msg: StoredMessage { seq: u64::MAX, ..msg(5) } }.encode(),
        ];
        s.journal.append(records.iter().map(Vec::as_slice)).unwrap();
        s.append(&[enqueue(6)]).unwrap();
        s.sync().unwrap();
    }
    // As after the crash of row 2: a new boot, so the index is rebuilt from the journal.
    std::fs::write(dir.path().join(INDEX_BOOT), "an-earlier-boot").unwrap();
    let s = Store::open(dir.path()).expect("one bad record never stops a store from opening");
    assert_eq!(s.indexed(), s.position().unwrap() as u64);
    assert_eq!(s.quarantined(), 3, "the long name, the undecodable record and the batch's bad part");
    let seqs: Vec<u64> = s.snapshot().unwrap().stores["a"].iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 3, 4, 6, u64::MAX], "the rest of a batch is kept");
    let quarantine = dir.path().join(journal::QUARANTINE_DIR);
    let why = std::fs::read_to_string(quarantine.join(format!("{bad_at:016}.why"))).unwrap();
    assert!(why.contains("600 bytes"), "{why}");
    let kept = std::fs::read(quarantine.join(format!("{bad_at:016}.record"))).unwrap();
    assert_eq!(Record::decode(&kept).unwrap(), enqueue_to(&long, 2));
    assert_eq!(std::fs::read_dir(&quarantine).unwrap().count(), 6);
    // And it stays open: a reopen in the same boot replays nothing, a write goes on.
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    s.append(&[enqueue(7)]).unwrap();
    assert_eq!(s.snapshot().unwrap().stores["a"].len(), 6);
}

/// Row 10 of issue 11 at the store: damage in the middle of the journal cuts the store
/// there, keeps the file, and marks the store as needing a resync until it has one.
#[test]
fn damage_in_the_middle_marks_the_store_until_it_has_resynced() {
    let dir = tempfile::tempdir().unwrap();
    let (ends, damaged_at);
    {
        let s = Store::open(dir.path()).unwrap();
        ends = s.append(&(1..=80).map(enqueue).collect::<Vec<_>>()).unwrap();
        s.sync().unwrap();
        s.catch_up().unwrap();
        assert!(s.resync_needed().is_none());
    }
    let path = dir.path().join(journal::FILE_NAME);
    damaged_at = ends[39];
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"\xff", damaged_at + 30).unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.position().unwrap() as u64, damaged_at);
    assert_eq!(s.snapshot().unwrap().stores["a"].len(), 40, "the index stands for the cut journal");
    let why = s.resync_needed().expect("marked");
    assert!(why.contains(&format!("position {damaged_at}")) && why.contains(".corrupt-"), "{why}");
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.resync_needed().as_deref(), Some(why.as_str()), "the mark outlives a restart");
    s.resynced().unwrap();
    assert!(s.resync_needed().is_none());
    drop(s);
    assert!(Store::open(dir.path()).unwrap().resync_needed().is_none());
}

/// Issue 12: log files nothing live refers to are collected; what stays replays into the
/// same index, so a rebuild from the live log files brings back no consumed message.
#[test]
fn garbage_collection_keeps_what_is_live_and_a_rebuild_from_the_rest_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let dequeue = |seq| Record::Dequeue { store: "a".into(), seq };
    let before;
    {
        // Log files of 400 bytes hold a few records each.
        let s = Store::open_sized(dir.path(), 400).unwrap();
        s.append(&[Record::Subscribe { key: "sub:c:d".into(), topic: "t".into() }]).unwrap();
        for seq in 1..=200 {
            s.append(&[enqueue(seq)]).unwrap();
            // Everything but 7 and 150 is consumed a little later, some of it in a batch.
            if seq > 3 && seq - 3 != 7 && seq - 3 != 150 {
                s.append(&[dequeue(seq - 3)]).unwrap();
            }
        }
        s.append(&[Record::Batch(vec![dequeue(198), dequeue(199)])]).unwrap();
        s.catch_up().unwrap();
        let files = s.files().len();
        assert!(files > 20, "{files} log files");
        // A pin keeps everything after it.
        let pin = s.pin(0);
        assert_eq!(s.collect_garbage().unwrap().files, 0, "a slave copying from 0 keeps every file");
        drop(pin);
        // The subscription (file 0) and messages 7 and 150 keep their files, and every
        // later file that consumed from them, until compaction copies them forward (what
        // the broker does for the entries it still holds).
        let chained = s.collect_garbage().unwrap();
        assert_eq!(chained.files, 0, "one live entry in the oldest file holds the chain");
        let mut done = chained;
        for _ in 0..10 {
            let moved: Vec<Record> = s.compaction(100).unwrap().into_iter().map(|(_, r)| r).collect();
            if !moved.is_empty() {
                s.append(&moved).unwrap();
            }
            s.catch_up().unwrap();
            let round = s.collect_garbage().unwrap();
            done.files += round.files;
            done.bytes += round.bytes;
        }
        let left = s.files().len();
        assert!(done.files > 0 && left < 8, "collected {done:?}, {left} of {files} log files left");
        assert_eq!(s.files().len() + done.files, files);
        assert!(s.disk_bytes() < 10_000, "{} bytes on disk", s.disk_bytes());
        before = s.snapshot().unwrap();
        let seqs: Vec<u64> = before.stores["a"].iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![7, 150, 200]);
        assert_eq!(before.subs["sub:c:d"], "t", "the subscription's file is kept");
        assert!(s.live_bytes() > 0);
    }
    // The index is lost (an OS crash): rebuilt from the log files that are left.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let s = Store::open_sized(dir.path(), 400).unwrap();
    let after = s.snapshot().unwrap();
    assert_eq!(after.stores, before.stores, "no consumed message comes back, no live one is lost");
    assert_eq!(after.subs, before.subs);
    assert!(after.next_seq >= 200, "sequence numbers do not go back: {}", after.next_seq);
    // Consuming the rest lets every finished file go.
    s.append(&[dequeue(7), dequeue(150), dequeue(200), Record::Unsubscribe { key: "sub:c:d".into() }]).unwrap();
    for seq in 201..=230 {
        s.append(&[enqueue(seq), dequeue(seq)]).unwrap();
    }
    s.catch_up().unwrap();
    s.collect_garbage().unwrap();
    assert_eq!(s.files().len(), 1, "{:?}", s.files());
    assert_eq!(s.live_bytes(), 0);
}

/// Issue 12: after a machine restart the index starts from its snapshot and replays only
/// the journal after it: a log file before the snapshot is never read again (here one full
/// of consumed messages is damaged, which a rebuild would trip over), and what followed the
/// snapshot is replayed.
#[test]
fn a_machine_restart_reuses_the_index_snapshot_and_replays_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let first_end;
    {
        let s = Store::open_sized(dir.path(), 400).unwrap();
        // The first log file: messages sent and consumed at once.
        let mut seq = 900;
        while s.files().len() < 2 {
            s.append(&[enqueue(seq), Record::Dequeue { store: "a".into(), seq }]).unwrap();
            seq += 1;
        }
        first_end = s.files()[0].end;
        for seq in 1..=20 {
            s.append(&[enqueue(seq)]).unwrap();
        }
        s.catch_up().unwrap();
        s.snapshot_index_if_due().unwrap();
        // Traffic that leaves nothing behind moves the journal on.
        for seq in 100..400 {
            s.append(&[enqueue(seq), Record::Dequeue { store: "a".into(), seq }]).unwrap();
        }
        s.catch_up().unwrap();
        let at = s.snapshot_index_if_due().unwrap().expect("due: the index moved past logSize and the live data");
        assert_eq!(s.snapshot_index_if_due().unwrap(), None, "not again before another logSize");
        // After the snapshot: five more messages, and five older ones consumed.
        for seq in 21..=25 {
            s.append(&[enqueue(seq), Record::Dequeue { store: "a".into(), seq: seq - 10 }]).unwrap();
        }
        s.catch_up().unwrap();
        assert!(s.position().unwrap() as u64 > at);
    }
    // The first log file is damaged, and the machine restarts.
    std::fs::write(dir.path().join(journal::FILE_NAME), vec![0xffu8; first_end as usize]).unwrap();
    std::fs::write(dir.path().join(INDEX_BOOT), "another boot").unwrap();
    let s = Store::open_sized(dir.path(), 400).unwrap();
    let seqs: Vec<u64> = s.snapshot().unwrap().stores["a"].iter().map(|m| m.seq).collect();
    let want: Vec<u64> = (1..=10).chain(16..=25).collect();
    assert_eq!(seqs, want, "snapshot + tail: nothing lost, nothing back");
    drop(s);
    // Without the snapshot the same restart rebuilds from every log file, and trips.
    let aside = dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    for f in [snapshot::SNAPSHOT, snapshot::SNAPSHOT_POS] {
        std::fs::rename(dir.path().join(f), aside.join(f)).unwrap();
    }
    std::fs::write(dir.path().join(INDEX_BOOT), "a third boot").unwrap();
    assert!(Store::open_sized(dir.path(), 400).is_err(), "a rebuild reads the damaged file");
    for f in [snapshot::SNAPSHOT, snapshot::SNAPSHOT_POS] {
        std::fs::rename(aside.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join(INDEX_BOOT), "a fourth boot").unwrap();
    let s = Store::open_sized(dir.path(), 400).unwrap();
    // A clear (a full resync) forgets the snapshot: it described another journal.
    s.clear().unwrap();
    assert!(!dir.path().join(snapshot::SNAPSHOT).exists());
}

/// Issue 12, item 4: a slave whose journal diverged cuts it where it agrees with the
/// master's, keeps what it drops in quarantine (bytes and messages counted), drops the log
/// files the master collected, and rebuilds its index from what it keeps.
#[test]
fn an_incremental_resync_cuts_keeps_what_it_drops_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_sized(dir.path(), 400).unwrap();
    let ends: Vec<u64> = (1..=30).map(|seq| s.append(&[enqueue(seq)]).unwrap()[0]).collect();
    s.catch_up().unwrap();
    let files = s.files();
    assert!(files.len() >= 3, "{files:?} {ends:?}");
    // The master agrees up to the start of the third file and collected the second.
    let (first, second, cut) = (files[0], files[1].start, files[2].start);
    let before = s.position().unwrap() as u64;
    s.begin_resync("test").unwrap();
    let dropped = s.resync_to(cut, &[first.start]).unwrap();
    let after_cut = ends.iter().filter(|&&e| e > cut).count() as u64;
    assert_eq!((dropped.bytes, dropped.messages, dropped.collected), (before - cut, after_cut, 1), "{dropped:?}");
    let copy = dropped.copy.clone().unwrap();
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), dropped.bytes, "the dropped bytes are kept");
    assert!(s.files().iter().all(|f| f.start != second), "the collected file is gone");
    assert_eq!(s.position().unwrap() as u64, first.end, "the journal ends with the kept file");
    // The index is rebuilt from the kept file alone.
    let seqs: Vec<u64> = s.snapshot().unwrap().stores["a"].iter().map(|m| m.seq).collect();
    let in_first: Vec<u64> = (1..=30).filter(|&seq| ends[seq as usize - 1] <= first.end).collect();
    assert_eq!(seqs, in_first);
    assert!(s.resync_needed().is_some(), "not master until it has caught up");
}

/// The tutorial's "where did the disk go" on a slave: a slave indexes what it received in
/// the background, and only once it is `CATCH_UP_BEHIND` behind, so when the master goes
/// quiet the last dequeues it acked are in its journal but not yet in its index, which
/// still counts their messages live. The collection judges the whole journal: it indexes
/// that tail first, so the slave deletes the same files as the master, at once.
#[test]
fn a_slave_collects_the_files_its_unindexed_dequeues_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let master = Store::open_sized(&dir.path().join("m"), 2000).unwrap();
    let slave = Store::open_sized(&dir.path().join("s"), 2000).unwrap();
    let ship = || {
        let mut next = slave.position().unwrap() as u64;
        while let Some(journal::Chunk { at, file, bytes }) = master.read_journal(next, 1 << 20).unwrap() {
            next = slave.append_replicated(file, at, &bytes).unwrap();
        }
    };
    for seq in 1..=200 {
        master.append(&[enqueue(seq)]).unwrap();
    }
    ship();
    // What `index_behind` does once the slave is far enough behind.
    slave.catch_up().unwrap();
    assert!(slave.files().len() > 3, "{:?}", slave.files());
    // All consumed: the dequeues (a few hundred bytes, less than the background catch-up's
    // threshold) reach the slave's journal, not its index.
    for seq in 1..=200 {
        master.append(&[Record::Dequeue { store: "a".into(), seq }]).unwrap();
    }
    ship();
    assert!(
        slave.position().unwrap() as u64 - slave.indexed() < crate::replication::slave::CATCH_UP_BEHIND,
        "the background catch-up would not have started"
    );
    master.catch_up().unwrap();
    let on_master = master.collect_garbage().unwrap();
    assert_eq!(master.files().len(), 1, "the master keeps only the file being written: {on_master:?}");
    let on_slave = slave.collect_garbage().unwrap();
    assert_eq!(on_slave, on_master, "the slave collects what the master did, in the same round");
    assert_eq!(slave.files(), master.files());
    assert_eq!(slave.live_bytes(), 0, "no consumed message is counted live on the slave");
}

/// The index snapshot keeps the log files from its position on (a restart replays them),
/// and is taken again once the files it alone keeps weigh more than a copy. The file the
/// snapshot's position lies *in* is one of those once it is finished: with the journal
/// quiet after that, it was kept for good although nothing in it was live.
#[test]
fn the_log_file_a_snapshot_was_taken_in_goes_once_it_is_finished_and_dead() {
    let dir = tempfile::tempdir().unwrap();
    let log_size = 256 << 10;
    let s = Store::open_sized(dir.path(), log_size).unwrap();
    let big = |seq| {
        let mut m = msg(seq);
        m.body = vec![b'x'; 1000];
        Record::Enqueue { store: "a".into(), msg: m }
    };
    let mut seq = 0;
    let mut pair = |s: &Store| {
        seq += 1;
        s.append(&[big(seq)]).unwrap();
        s.append(&[Record::Dequeue { store: "a".into(), seq }]).unwrap();
    };
    // Traffic that leaves nothing live, into a second log file.
    while s.files().len() < 2 {
        pair(&s);
    }
    s.catch_up().unwrap();
    let at = s.snapshot_index_if_due().unwrap().expect("due: the index moved past logSize");
    let file = s.files()[1];
    assert!(file.start < at, "the snapshot lies in the second file");
    // More of the same until that file is finished: less than logSize after the snapshot.
    while s.files().len() < 3 {
        pair(&s);
    }
    s.catch_up().unwrap();
    assert!((s.position().unwrap() as u64) - at < log_size, "not due by distance alone");
    s.snapshot_index_if_due().unwrap();
    s.collect_garbage().unwrap();
    assert_eq!(s.files().len(), 1, "only the file being written is left: {:?}", s.files());
}
