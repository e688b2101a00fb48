use super::*;

/// Appends `n` records of `size` bytes (record `i` filled with `i + 1`); their end offsets.
pub(crate) fn records(j: &Journal, n: usize, size: usize) -> Vec<u64> {
    let data: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8 + 1; size]).collect();
    j.append(data.iter().map(Vec::as_slice)).unwrap()
}

#[test]
fn framing_round_trips_and_refuses_garbage() {
    let mut buf = Vec::new();
    let crc = frame(b"hello", &mut buf);
    assert_eq!(buf.len(), HEADER + 5);
    assert_eq!(next_record(&buf), Next::Record { data: b"hello", len: HEADER + 5, crc });
    for cut in 0..buf.len() {
        assert_eq!(next_record(&buf[..cut]), Next::Partial, "cut at {cut}");
    }
    assert_eq!(next_record(&[0, 0, 0]), Next::Zero);
    let mut flipped = buf.clone();
    flipped[HEADER] ^= 1;
    assert!(matches!(next_record(&flipped), Next::Corrupt(_)));
    assert!(matches!(next_record(b"hello world"), Next::Corrupt(_)));
    assert_eq!(validate(&buf), Ok(Some((0, crc))));
    assert!(validate(&buf[..buf.len() - 1]).is_err());
}

#[test]
fn a_failed_fsync_poisons_the_journal_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path(), DEFAULT_LOG_SIZE).unwrap();
    let fault = j.fault();
    records(&j, 1, 10);
    j.sync().unwrap();
    j.fail_fsync_after(1);
    j.sync().unwrap();
    records(&j, 1, 10);
    assert!(j.sync().is_err(), "the injected failure");
    assert!(j.failed().unwrap().contains("fsync"));
    assert!(fault.borrow().is_some(), "the fault is announced");
    assert!(j.sync().is_err(), "never retried: a later fsync fails too, though the disk would take it");
    assert!(j.append([b"x".as_slice()]).is_err(), "no more appends");
    assert!(j.append_raw(0, j.end(), &[]).is_err());
    assert!(j.clear().is_err());
}

#[test]
fn reads_whole_records_and_a_slave_appends_them_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let master = Journal::open(&dir.path().join("m"), DEFAULT_LOG_SIZE).unwrap();
    let slave = Journal::open(&dir.path().join("s"), DEFAULT_LOG_SIZE).unwrap();
    let ends = records(&master, 50, 300);
    let big = vec![9u8; 5000];
    let big_end = master.append([big.as_slice()]).unwrap()[0];
    let mut from = 0;
    while from < master.end() {
        let chunk = master.read(from, 1000).unwrap();
        assert!(validate(&chunk).is_ok());
        from = slave.append_raw(0, from, &chunk).unwrap();
    }
    assert_eq!(slave.end(), big_end);
    assert_eq!(slave.last(), master.last());
    assert_eq!(master.read(ends[49], 10).unwrap().len(), HEADER + 5000, "one record larger than asked");
    // Not a record start (as from a damaged index): an error, never a panic.
    let stars = master.append([b"****".as_slice()]).unwrap()[0];
    for from in [1, ends[0] + 3, big_end - 3, stars - 2, stars - 1] {
        assert!(master.read(from, 1000).is_err(), "reading from {from}");
    }
    assert!(slave.append_raw(0, 0, &master.read(0, 1).unwrap()).is_err(), "out-of-place append is refused");
    let mut bad = master.read(0, 400).unwrap();
    bad[20] ^= 0xff;
    let fresh = Journal::open(&dir.path().join("f"), DEFAULT_LOG_SIZE).unwrap();
    assert!(fresh.append_raw(0, 0, &bad).is_err(), "corrupt bytes are refused");
    assert_eq!(fresh.end(), 0);
    slave.clear().unwrap();
    assert_eq!((slave.end(), slave.last()), (0, None));
}

/// Records of 90 bytes (100 framed) into a journal of 1000-byte log files: ten to a file.
fn small(dir: &Path) -> Journal {
    Journal::open(dir, 1000).unwrap()
}

#[test]
fn log_files_roll_at_log_size_and_are_named_by_their_start() {
    let dir = tempfile::tempdir().unwrap();
    let j = small(dir.path());
    let ends: Vec<u64> = (0..25).flat_map(|_| records(&j, 1, 90)).collect();
    assert_eq!(j.end(), 2500);
    let files = j.files();
    assert_eq!(
        files,
        vec![
            FileInfo { start: 0, end: 1000 },
            FileInfo { start: 1000, end: 2000 },
            FileInfo { start: 2000, end: 2500 }
        ]
    );
    for name in ["0000000000000000.log", "00000000000003e8.log", "00000000000007d0.log"] {
        assert!(dir.path().join(name).exists(), "{name}");
    }
    assert_eq!(parse_file_name("00000000000003e8.log"), Some(1000));
    assert_eq!(parse_file_name("3e8.log"), None);
    // A read stops at its file's end; the next read starts the next file.
    assert_eq!(j.read(900, 10_000).unwrap().len(), 100);
    assert_eq!(j.read(1000, 10_000).unwrap().len(), 1000);
    assert_eq!(j.record_at(ends[9]).unwrap().map(|r| r.0), Some(ends[10]));
    // A group larger than what is left of a file starts the next one; one larger than
    // logSize gets a file of its own.
    let big = vec![5u8; 1500];
    let end = j.append([big.as_slice()]).unwrap()[0];
    assert_eq!((j.files().last().unwrap().start, end), (2500, 2500 + 1510));
    records(&j, 1, 90);
    assert_eq!(j.files().last().unwrap().start, 4010);
    j.sync().unwrap();
    drop(j);
    // Reopened: the end and the last record are found from the last file alone.
    let j = small(dir.path());
    assert_eq!(j.end(), 4110);
    assert_eq!(j.last().map(|l| l.0), Some(4010));
    assert_eq!(j.files().len(), 5);
    assert_eq!(j.disk_bytes(), 4010 + 100 + RESERVE.min(1000), "the last file keeps its written zeros");
}

#[test]
fn deleted_files_leave_holes_that_reads_name_and_a_slave_mirrors() {
    let dir = tempfile::tempdir().unwrap();
    let master = small(&dir.path().join("m"));
    for _ in 0..35 {
        records(&master, 1, 90);
    }
    master.delete(1000).unwrap();
    assert!(master.delete(3000).is_err(), "the last file is never deleted");
    assert!(master.read(1000, 100).is_err(), "a collected position is an error, not garbage");
    // read_from goes on at the next file after a hole, and says which file it read.
    let at = |from| master.read_from(from, 100).unwrap().map(|c| (c.at, c.file, c.bytes.len()));
    assert_eq!(at(1000), Some((2000, 2000, 100)));
    assert_eq!(at(1500), Some((2000, 2000, 100)));
    assert_eq!(at(900), Some((900, 0, 100)), "900 is in a file");
    assert_eq!(at(master.end()), None);
    // A slave copies file by file, jumping the hole the master left.
    let slave = small(&dir.path().join("s"));
    let mut from = 0;
    while let Some(Chunk { at, file, bytes }) = master.read_from(from, 250).unwrap() {
        from = slave.append_raw(file, at, &bytes).unwrap();
    }
    assert_eq!(slave.files(), master.files());
    assert_eq!(slave.last(), master.last());
    assert!(slave.append_raw(0, slave.end(), &[]).is_err(), "an older file is refused");
    drop(slave);
    let slave = small(&dir.path().join("s"));
    assert_eq!(slave.files(), master.files(), "the hole survives a reopen");
    // Truncated inside a file: later files go, the last record is found again.
    slave.truncate(2550).unwrap();
    assert_eq!(slave.end(), 2500, "cut at a record boundary only by the caller; 2550 is inside a record");
}

#[test]
fn truncate_cuts_at_a_position_and_clear_forgets_all() {
    let dir = tempfile::tempdir().unwrap();
    let j = small(dir.path());
    let ends: Vec<u64> = (0..25).flat_map(|_| records(&j, 1, 90)).collect();
    j.sync().unwrap();
    j.truncate(ends[14]).unwrap();
    assert_eq!(j.end(), 1500);
    assert_eq!(j.last().map(|l| l.0), Some(ends[13]));
    assert_eq!(j.files().len(), 2);
    records(&j, 1, 90);
    assert_eq!(j.end(), 1600);
    // At a file boundary: the finished file becomes the last again.
    j.truncate(1000).unwrap();
    assert_eq!((j.end(), j.last().map(|l| l.0), j.files().len()), (1000, Some(ends[8]), 1));
    j.clear().unwrap();
    assert_eq!((j.end(), j.last(), j.files()), (0, None, vec![FileInfo { start: 0, end: 0 }]));
    drop(j);
    let j = small(dir.path());
    assert_eq!((j.end(), j.last()), (0, None));
}

#[test]
fn an_empty_last_file_left_by_a_crash_mid_roll_is_dropped_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let j = small(dir.path());
    for _ in 0..10 {
        records(&j, 1, 90);
    }
    drop(j);
    std::fs::write(dir.path().join(file_name(1000)), b"").unwrap();
    let j = small(dir.path());
    assert_eq!((j.end(), j.files().len()), (1000, 1));
    records(&j, 1, 90);
    assert_eq!(j.files().len(), 2, "the next append rolls as it would have");
}
