//! One series file: the single writer (create, open, append with the A/B commit protocol,
//! growth by write-new-then-rename) and readers (a read-only mapping of the committed rows).
//!
//! Append protocol (`storage-and-cache.md` §2.2): rows go into reserved capacity with
//! `pwrite` (never through a mapping), newly sealed blocks get their checksums in the table,
//! then the *inactive* header slot is written with the next sequence number. A crash before
//! that last write leaves the old slot in charge and the new rows invisible; a torn slot
//! fails its checksum. With [`Durability::Full`] the data is synced before the slot and the
//! slot after it. Committed bytes are never rewritten; growth writes a new file and renames
//! it over the old one, so readers' mappings stay valid.

use super::header::{
    choose_slot, column_offsets, Header, SlotError, BLOCK_ROWS, COLUMNS, SLOT_OFFSETS, SLOT_SIZE,
    TABLE_OFFSET,
};
use crate::candles::Candles;
use crate::error::{IctError, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// How hard an append pushes its bytes to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Data and header are fdatasync'ed: a returned append survives power loss.
    Full,
    /// No sync: survives a crash of the process, not necessarily of the machine.
    Os,
}

use crate::error::io_error as io;

fn corrupt(path: &Path, detail: impl Into<String>) -> IctError {
    IctError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Reads both slots and returns the one to trust (and its index), checking the file is as
/// long as that header's layout requires *before* anything maps it.
fn read_header(file: &File, path: &Path) -> Result<(usize, Header)> {
    let len = file.metadata().map_err(io(path))?.len();
    if len < TABLE_OFFSET {
        return Err(corrupt(
            path,
            format!("file is {len} bytes, shorter than its header"),
        ));
    }
    let mut slots = vec![0u8; 2 * SLOT_SIZE];
    file.read_exact_at(&mut slots, SLOT_OFFSETS[0])
        .map_err(io(path))?;
    let a = Header::decode(&slots[..SLOT_SIZE]);
    let b = Header::decode(&slots[SLOT_SIZE..]);
    let (slot, header) = choose_slot(a, b)
        .map_err(|(ea, eb)| corrupt(path, format!("no usable header slot (A: {ea}; B: {eb})")))?;
    let needed = header
        .file_len()
        .map_err(|e| corrupt(path, e.to_string()))?;
    if len < needed {
        return Err(corrupt(
            path,
            format!("file is {len} bytes, its header needs {needed} (truncated)"),
        ));
    }
    Ok((slot, header))
}

fn slot_error(path: &Path) -> impl Fn(SlotError) -> IctError + '_ {
    move |e| corrupt(path, e.to_string())
}

/// The writer of one series file. Not `Clone`: one writer per file (the store adds the lock
/// file that enforces it across processes).
pub struct SeriesWriter {
    path: PathBuf,
    file: File,
    header: Header,
    /// Index of the slot holding `header` (the next commit writes the other one).
    slot: usize,
    /// Running checksums of the tail (unsealed) block, one per column.
    tail: [Xxh3; 6],
    /// Tests stop the protocol after this step, as a crash there would.
    #[cfg(test)]
    crash_after: Option<Step>,
}

/// Steps of the append protocol a test can stop after (fault injection).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    DataWritten,
    DataSynced,
    SlotTorn,
}

impl SeriesWriter {
    /// Creates a new, empty series file (fails if `path` exists).
    pub fn create(
        path: &Path,
        symbol: &str,
        timeframe_seconds: u64,
        capacity: u64,
    ) -> Result<Self> {
        let header = Header::new(symbol, timeframe_seconds, capacity.max(1));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io(path))?;
        let len = header.file_len().map_err(slot_error(path))?;
        file.set_len(len).map_err(io(path))?;
        let mut writer = Self {
            path: path.to_path_buf(),
            file,
            header,
            slot: 1,
            tail: std::array::from_fn(|_| Xxh3::new()),
            #[cfg(test)]
            crash_after: None,
        };
        // Both slots start valid, so verify() can report any slot that later goes bad.
        writer.commit(Durability::Os)?;
        writer.commit(Durability::Full)?;
        Ok(writer)
    }

    /// Opens an existing series file for appending; recomputes the tail checksums from the
    /// committed rows and refuses a file whose tail does not match its header.
    pub fn open(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io(path))?;
        let (slot, header) = read_header(&file, path)?;
        let mut writer = Self {
            path: path.to_path_buf(),
            file,
            header,
            slot,
            tail: std::array::from_fn(|_| Xxh3::new()),
            #[cfg(test)]
            crash_after: None,
        };
        let start = writer.header.sealed_blocks * BLOCK_ROWS;
        let rows = writer.header.committed_rows - start;
        for (c, (name, _)) in COLUMNS.iter().enumerate() {
            let bytes = writer.read_rows(c, start, rows)?;
            writer.tail[c].update(&bytes);
            if writer.tail[c].digest() != writer.header.tail_checksums[c] {
                return Err(corrupt(
                    path,
                    format!(
                        "column '{name}' rows {start}..{} do not match their checksum",
                        writer.header.committed_rows
                    ),
                ));
            }
        }
        Ok(writer)
    }

    /// The committed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The file this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_rows(&self, column: usize, start: u64, rows: u64) -> Result<Vec<u8>> {
        let offsets = column_offsets(self.header.capacity_rows).map_err(slot_error(&self.path))?;
        let len = usize::try_from(rows * 8).map_err(|_| corrupt(&self.path, "row count"))?;
        let mut bytes = vec![0u8; len];
        self.file
            .read_exact_at(&mut bytes, offsets[column] + start * 8)
            .map_err(io(&self.path))?;
        Ok(bytes)
    }

    /// Appends a batch atomically: validated first (time strictly after the stored last
    /// time, finite values, high >= max(open, close), low <= min(open, close)), then written
    /// and committed; on any error nothing of the batch becomes visible.
    pub fn append(&mut self, batch: &Candles<'_>, durability: Durability) -> Result<()> {
        validate_batch(batch, self.header.committed_rows, self.header.last_ts)?;
        let k = batch.len() as u64;
        if k == 0 {
            return Ok(());
        }
        let needed = self.header.committed_rows + k;
        if needed > self.header.capacity_rows {
            self.grow(needed.max(self.header.capacity_rows.saturating_mul(2)))?;
        }
        let columns: [&[u8]; 6] = [
            bytemuck::cast_slice(batch.time),
            bytemuck::cast_slice(batch.open),
            bytemuck::cast_slice(batch.high),
            bytemuck::cast_slice(batch.low),
            bytemuck::cast_slice(batch.close),
            bytemuck::cast_slice(batch.volume),
        ];
        // On failure the in-memory state goes back to the last commit, as the file's has.
        let (saved_header, saved_tail) = (self.header.clone(), self.tail.clone());
        let result = (|| {
            self.write_rows(&columns)?;
            #[cfg(test)]
            self.crash_point(Step::DataWritten)?;
            if self.header.committed_rows == 0 {
                self.header.first_ts = batch.time[0];
            }
            self.header.last_ts = batch.time[batch.len() - 1];
            self.header.committed_rows = needed;
            self.commit(durability)
        })();
        if result.is_err() {
            (self.header, self.tail) = (saved_header, saved_tail);
        }
        result
    }

    #[cfg(test)]
    fn crash_point(&self, step: Step) -> Result<()> {
        if self.crash_after == Some(step) {
            return Err(IctError::Internal {
                context: "fault injection".into(),
                message: format!("simulated crash after {step:?}"),
            });
        }
        Ok(())
    }

    /// Writes rows (as raw little-endian bytes per column) after the committed ones, sealing
    /// blocks as they fill. Does not publish them.
    fn write_rows(&mut self, columns: &[&[u8]; 6]) -> Result<()> {
        let offsets = column_offsets(self.header.capacity_rows).map_err(slot_error(&self.path))?;
        let start = self.header.committed_rows;
        for (c, bytes) in columns.iter().enumerate() {
            self.file
                .write_all_at(bytes, offsets[c] + start * 8)
                .map_err(io(&self.path))?;
        }
        // Feed the running tail checksums, sealing each block that fills.
        let rows = columns[0].len() as u64 / 8;
        let mut row = start;
        while row < start + rows {
            let block_end = (row / BLOCK_ROWS + 1) * BLOCK_ROWS;
            let end = block_end.min(start + rows);
            for (c, bytes) in columns.iter().enumerate() {
                let lo = ((row - start) * 8) as usize;
                let hi = ((end - start) * 8) as usize;
                self.tail[c].update(&bytes[lo..hi]);
            }
            if end == block_end {
                let block = row / BLOCK_ROWS;
                let mut entry = [0u8; 48];
                for c in 0..COLUMNS.len() {
                    entry[c * 8..c * 8 + 8].copy_from_slice(&self.tail[c].digest().to_le_bytes());
                    self.tail[c] = Xxh3::new();
                }
                self.file
                    .write_all_at(&entry, TABLE_OFFSET + block * 48)
                    .map_err(io(&self.path))?;
                self.header.sealed_blocks = block + 1;
            }
            row = end;
        }
        Ok(())
    }

    /// Publishes the current in-memory header in the inactive slot.
    fn commit(&mut self, durability: Durability) -> Result<()> {
        if durability == Durability::Full {
            self.file.sync_data().map_err(io(&self.path))?;
        }
        #[cfg(test)]
        self.crash_point(Step::DataSynced)?;
        let mut table = vec![0u8; (self.header.sealed_blocks * 48) as usize];
        self.file
            .read_exact_at(&mut table, TABLE_OFFSET)
            .map_err(io(&self.path))?;
        self.header.chain_hash = xxh3_64(&table);
        self.header.tail_checksums = std::array::from_fn(|c| self.tail[c].digest());
        self.header.sequence += 1;
        self.header.writer_pid = u64::from(std::process::id());
        self.header.commit_time_ns = now_ns();
        let next = 1 - self.slot;
        let bytes = self.header.encode().map_err(slot_error(&self.path))?;
        #[cfg(test)]
        if self.crash_after == Some(Step::SlotTorn) {
            // Half a slot reaches the file: the write was interrupted.
            self.file
                .write_all_at(&bytes[..SLOT_SIZE / 2], SLOT_OFFSETS[next])
                .map_err(io(&self.path))?;
            self.crash_point(Step::SlotTorn)?;
        }
        self.file
            .write_all_at(&bytes[..], SLOT_OFFSETS[next])
            .map_err(io(&self.path))?;
        if durability == Durability::Full {
            self.file.sync_data().map_err(io(&self.path))?;
        }
        self.slot = next;
        Ok(())
    }

    /// Moves the committed rows into a new file of `capacity` rows, renamed over this one.
    fn grow(&mut self, capacity: u64) -> Result<()> {
        let tmp = self.path.with_extension("grow.tmp");
        let _ = std::fs::remove_file(&tmp);
        let h = &self.header;
        let mut grown = SeriesWriter::create(&tmp, &h.symbol, h.timeframe_seconds, capacity)?;
        let rows = h.committed_rows;
        let mut done = 0;
        // Copy block by block so memory stays bounded.
        while done < rows {
            let n = BLOCK_ROWS.min(rows - done);
            let chunk: Vec<Vec<u8>> = (0..COLUMNS.len())
                .map(|c| self.read_rows(c, done, n))
                .collect::<Result<_>>()?;
            let refs: [&[u8]; 6] = std::array::from_fn(|c| chunk[c].as_slice());
            grown.write_rows(&refs)?;
            grown.header.committed_rows += n;
            done += n;
        }
        grown.header.first_ts = h.first_ts;
        grown.header.last_ts = h.last_ts;
        grown.commit(Durability::Full)?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all(); // best effort: the rename's directory entry
            }
        }
        grown.path = self.path.clone();
        *self = grown;
        Ok(())
    }
}

impl std::fmt::Debug for SeriesWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesWriter")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The store's append rules, with errors that name the row (counted within the batch).
fn validate_batch(batch: &Candles<'_>, committed: u64, last_ts: i64) -> Result<()> {
    if committed > 0 {
        if let Some(&first) = batch.time.first() {
            if first <= last_ts {
                return Err(IctError::Overlap {
                    row: 0,
                    value: first,
                    last: last_ts,
                });
            }
        }
    }
    for i in 0..batch.len() {
        let (o, h, l, c) = (batch.open[i], batch.high[i], batch.low[i], batch.close[i]);
        if h < o.max(c) || l > o.min(c) {
            return Err(IctError::parameter(
                "candles",
                format!(
                    "row {i}: high {h} / low {l} do not contain open {o} and close {c} \
                     (need high >= max(open, close) and low <= min(open, close))"
                ),
            ));
        }
    }
    Ok(())
}

/// A read-only view of the committed rows of one series file at the moment it was opened.
/// The mapping is shared (`Arc`), so views handed out live on after the reader is dropped or
/// the file is replaced by growth.
#[derive(Debug, Clone)]
pub struct SeriesReader {
    path: PathBuf,
    map: Arc<memmap2::Mmap>,
    header: Header,
    /// (device, inode, length) of the mapped file: a growth or rewrite replaces the inode.
    identity: (u64, u64, u64),
}

fn identity(file: &File, path: &Path) -> Result<(u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata().map_err(io(path))?;
    Ok((m.dev(), m.ino(), m.len()))
}

impl SeriesReader {
    /// Maps a series file read-only after validating its header and length. Takes no lock.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(io(path))?;
        let (_, header) = read_header(&file, path)?;
        // SAFETY: the store never truncates or rewrites committed bytes of a file in place
        // (appends go beyond the committed rows, growth renames a new file over the name),
        // and the length was checked against the header above. A foreign tool that
        // truncates the file could still cause SIGBUS; the store documents that.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            map: Arc::new(map),
            header,
            identity: identity(&file, path)?,
        })
    }

    /// The series as it is now: re-reads the header, and keeps the existing mapping when the
    /// file is the same (appends within capacity do not change its length or inode), so views
    /// of one series share memory. A grown or rewritten file is mapped anew.
    pub fn refreshed(&self) -> Result<Self> {
        let file = File::open(&self.path).map_err(io(&self.path))?;
        if identity(&file, &self.path)? != self.identity {
            return Self::open(&self.path);
        }
        let (_, header) = read_header(&file, &self.path)?;
        let needed = header.file_len().map_err(slot_error(&self.path))?;
        if needed > self.map.len() as u64 {
            return Self::open(&self.path);
        }
        Ok(Self {
            path: self.path.clone(),
            map: Arc::clone(&self.map),
            header,
            identity: self.identity,
        })
    }

    /// The header this view was opened with.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The shared mapping (for zero-copy views that must keep it alive).
    pub fn mapping(&self) -> &Arc<memmap2::Mmap> {
        &self.map
    }

    fn column_bytes(&self, column: usize) -> Result<&[u8]> {
        let offsets = column_offsets(self.header.capacity_rows).map_err(slot_error(&self.path))?;
        let start = offsets[column] as usize;
        let end = start + self.header.committed_rows as usize * 8;
        self.map
            .get(start..end)
            .ok_or_else(|| corrupt(&self.path, "column region outside the file"))
    }

    /// Asks the kernel to start reading the committed rows of every column in the background
    /// (`madvise(WILLNEED)`), so a batch of series pages in while earlier ones are used.
    /// Only advice: a refusal changes nothing and is ignored.
    pub fn prefetch(&self) {
        let Ok(offsets) = column_offsets(self.header.capacity_rows) else {
            return;
        };
        let len = self.header.committed_rows as usize * 8;
        for offset in offsets {
            // Page-aligned starts (regions are page-aligned); the kernel rounds the length.
            let _ = self
                .map
                .advise_range(memmap2::Advice::WillNeed, offset as usize, len);
        }
    }

    /// The committed times (int64 ns UTC).
    pub fn time(&self) -> Result<&[i64]> {
        bytemuck::try_cast_slice(self.column_bytes(0)?)
            .map_err(|e| corrupt(&self.path, format!("column 'time': {e}")))
    }

    /// A committed float64 column by index (1 = open .. 5 = volume).
    pub fn values(&self, column: usize) -> Result<&[f64]> {
        if !(1..COLUMNS.len()).contains(&column) {
            return Err(IctError::parameter(
                "column",
                format!("{column} is not 1..5"),
            ));
        }
        bytemuck::try_cast_slice(self.column_bytes(column)?)
            .map_err(|e| corrupt(&self.path, format!("column '{}': {e}", COLUMNS[column].0)))
    }

    /// Checks both header slots, every sealed block and the tail against their checksums; one
    /// entry per damaged slot or (column, block), naming the row range.
    pub fn verify(&self) -> Result<Vec<Damage>> {
        let h = &self.header;
        let mut damage = Vec::new();
        // A slot that fails to decode is damage too, even though the other one is in charge
        // (an interrupted commit leaves the inactive slot torn until the next commit).
        for (name, offset) in [
            ("header slot A", SLOT_OFFSETS[0]),
            ("header slot B", SLOT_OFFSETS[1]),
        ] {
            let start = offset as usize;
            let bad = self
                .map
                .get(start..start + SLOT_SIZE)
                .is_none_or(|slot| Header::decode(slot).is_err());
            if bad {
                damage.push(Damage {
                    column: name,
                    block: None,
                    rows: (0, 0),
                });
            }
        }
        let table_len = (h.sealed_blocks * 48) as usize;
        let table = self
            .map
            .get(TABLE_OFFSET as usize..TABLE_OFFSET as usize + table_len)
            .ok_or_else(|| corrupt(&self.path, "checksum table outside the file"))?;
        if xxh3_64(table) != h.chain_hash {
            damage.push(Damage {
                column: "checksum table",
                block: None,
                rows: (0, h.sealed_blocks * BLOCK_ROWS),
            });
        }
        for (c, (name, _)) in COLUMNS.iter().enumerate() {
            let bytes = self.column_bytes(c)?;
            for block in 0..=h.sealed_blocks {
                // block <= sealed_blocks, so lo <= committed: the tail may be empty, and an
                // empty tail hashes to the empty-input checksum the writer stored.
                let lo = block * BLOCK_ROWS;
                let hi = ((block + 1) * BLOCK_ROWS).min(h.committed_rows);
                let sum = xxh3_64(&bytes[(lo * 8) as usize..(hi * 8) as usize]);
                let expected = if block < h.sealed_blocks {
                    let at = ((block * 6 + c as u64) * 8) as usize;
                    u64::from_le_bytes(table[at..at + 8].try_into().unwrap_or([0; 8]))
                } else {
                    h.tail_checksums[c]
                };
                if sum != expected {
                    damage.push(Damage {
                        column: name,
                        block: Some(block),
                        rows: (lo, hi),
                    });
                }
            }
        }
        Ok(damage)
    }
}

/// One damaged region found by [`SeriesReader::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Column name, or "checksum table".
    pub column: &'static str,
    /// Block index (None for the table).
    pub block: Option<u64>,
    /// Rows covered, half-open.
    pub rows: (u64, u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Batch {
        time: Vec<i64>,
        price: Vec<f64>,
    }

    fn batch(start: i64, n: usize) -> Batch {
        Batch {
            time: (0..n as i64)
                .map(|i| (start + i) * 60_000_000_000)
                .collect(),
            price: (0..n).map(|i| 1.0 + (i % 97) as f64 * 1e-4).collect(),
        }
    }

    fn candles(b: &Batch) -> Candles<'_> {
        Candles::new(&b.time, &b.price, &b.price, &b.price, &b.price, &b.price).unwrap()
    }

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ictcore-series-{}-{}",
            std::process::id(),
            now_ns()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn append_grow_reopen_read_verify() {
        let d = dir();
        let path = d.join("EURUSD_1m.ictc");
        let mut w = SeriesWriter::create(&path, "EURUSD", 60, 1000).unwrap();
        let first = batch(0, 700);
        w.append(&candles(&first), Durability::Os).unwrap();
        let second = batch(700, 140_000); // grows the file and seals two blocks
        w.append(&candles(&second), Durability::Full).unwrap();
        assert_eq!(w.header().committed_rows, 140_700);
        assert_eq!(w.header().sealed_blocks, 2);
        drop(w);
        let w = SeriesWriter::open(&path).unwrap();
        assert_eq!(w.header().last_ts, 140_699 * 60_000_000_000);
        let r = SeriesReader::open(&path).unwrap();
        assert_eq!(r.time().unwrap()[700], first.time[699] + 60_000_000_000);
        assert_eq!(r.values(4).unwrap()[139_999], second.price[139_299]);
        assert!(r.verify().unwrap().is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    /// Fault injection: a crash after each protocol step leaves the previous commit in
    /// charge, the new rows invisible and the file verifiable (a torn slot is reported by
    /// verify until the next commit rewrites it); the next writer carries on.
    #[test]
    fn a_crash_after_any_step_keeps_the_previous_commit() {
        for step in [Step::DataWritten, Step::DataSynced, Step::SlotTorn] {
            for durability in [Durability::Full, Durability::Os] {
                let d = dir();
                let path = d.join("s.ictc");
                let mut w = SeriesWriter::create(&path, "X", 60, 100).unwrap();
                w.append(&candles(&batch(0, 30)), durability).unwrap();
                w.crash_after = Some(step);
                let err = w.append(&candles(&batch(30, 40)), durability).unwrap_err();
                assert!(err.to_string().contains("simulated crash"), "{err}");
                assert_eq!(w.header().committed_rows, 30, "in-memory state rolled back");
                drop(w);
                let r = SeriesReader::open(&path).unwrap();
                assert_eq!(r.header().committed_rows, 30, "{step:?}");
                assert_eq!(r.time().unwrap(), &batch(0, 30).time[..]);
                let damage = r.verify().unwrap();
                if step == Step::SlotTorn {
                    assert_eq!(damage.len(), 1);
                    assert!(damage[0].column.starts_with("header slot"));
                } else {
                    assert!(damage.is_empty(), "{step:?}: {damage:?}");
                }
                let mut again = SeriesWriter::open(&path).unwrap();
                again.append(&candles(&batch(30, 40)), durability).unwrap();
                let r = SeriesReader::open(&path).unwrap();
                assert_eq!(r.header().committed_rows, 70);
                assert!(
                    r.verify().unwrap().is_empty(),
                    "the next commit heals the slot"
                );
                std::fs::remove_dir_all(d).unwrap();
            }
        }
    }

    #[test]
    fn a_full_block_leaves_an_empty_tail_that_verifies() {
        let d = dir();
        let path = d.join("s.ictc");
        let mut w = SeriesWriter::create(&path, "X", 60, 10).unwrap();
        w.append(&candles(&batch(0, BLOCK_ROWS as usize)), Durability::Os)
            .unwrap();
        assert_eq!(w.header().sealed_blocks, 1);
        drop(w);
        assert!(SeriesWriter::open(&path).is_ok());
        assert!(SeriesReader::open(&path)
            .unwrap()
            .verify()
            .unwrap()
            .is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn bad_batches_commit_nothing() {
        let d = dir();
        let path = d.join("s.ictc");
        let mut w = SeriesWriter::create(&path, "X", 60, 10).unwrap();
        w.append(&candles(&batch(10, 5)), Durability::Os).unwrap();
        let err = w
            .append(&candles(&batch(14, 3)), Durability::Os)
            .unwrap_err();
        assert!(err.to_string().contains("does not come after"), "{err}");
        let err = w
            .append(&candles(&batch(2, 3)), Durability::Os)
            .unwrap_err();
        assert!(matches!(err, IctError::Overlap { row: 0, .. }), "{err}");
        let t = [100 * 60_000_000_000i64];
        let (o, h, l, c) = ([1.0], [0.5], [0.4], [1.0]);
        let bad = Candles::new(&t, &o, &h, &l, &c, &c).unwrap();
        let err = w.append(&bad, Durability::Os).unwrap_err();
        assert!(err.to_string().contains("row 0: high"), "{err}");
        assert_eq!(w.header().committed_rows, 5);
        assert_eq!(SeriesReader::open(&path).unwrap().time().unwrap().len(), 5);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_torn_second_slot_leaves_the_previous_commit() {
        let d = dir();
        let path = d.join("s.ictc");
        let mut w = SeriesWriter::create(&path, "X", 60, 100).unwrap();
        w.append(&candles(&batch(0, 10)), Durability::Os).unwrap();
        w.append(&candles(&batch(10, 10)), Durability::Os).unwrap();
        let newest = SLOT_OFFSETS[w.slot];
        drop(w);
        // Tear the newest slot: the reader falls back to the 10-row commit.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[0xFF; 16], newest + 100).unwrap();
        let r = SeriesReader::open(&path).unwrap();
        assert_eq!(r.header().committed_rows, 10);
        let damage = r.verify().unwrap();
        assert_eq!(damage.len(), 1, "{damage:?}");
        assert!(damage[0].column.starts_with("header slot"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn damage_is_located_and_bad_files_are_refused() {
        let d = dir();
        let path = d.join("s.ictc");
        let mut w = SeriesWriter::create(&path, "X", 60, 70_000).unwrap();
        w.append(&candles(&batch(0, 66_000)), Durability::Os)
            .unwrap();
        drop(w);
        let offsets = column_offsets(70_000).unwrap();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[0x55], offsets[3] + 8 * 1234).unwrap(); // low, block 0
        f.write_all_at(&[0x55], offsets[2] + 8 * 65_600).unwrap(); // high, tail
        let damage = SeriesReader::open(&path).unwrap().verify().unwrap();
        assert_eq!(
            damage,
            vec![
                Damage {
                    column: "high",
                    block: Some(1),
                    rows: (65_536, 66_000)
                },
                Damage {
                    column: "low",
                    block: Some(0),
                    rows: (0, 65_536)
                },
            ]
        );
        assert!(
            SeriesWriter::open(&path).is_err(),
            "a writer refuses a damaged tail"
        );
        // Truncated, short and foreign files.
        f.set_len(offsets[5]).unwrap();
        let err = SeriesReader::open(&path).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        f.set_len(100).unwrap();
        assert!(matches!(
            SeriesReader::open(&path),
            Err(IctError::Corrupt { .. })
        ));
        std::fs::write(&path, vec![b'x'; 20_000]).unwrap();
        let err = SeriesReader::open(&path).unwrap_err();
        assert!(err.to_string().contains("bad magic"), "{err}");
        assert!(matches!(
            SeriesReader::open(&d.join("missing")),
            Err(IctError::NotFound { .. })
        ));
        std::fs::remove_dir_all(d).unwrap();
    }
}
