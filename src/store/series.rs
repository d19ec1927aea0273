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
    choose_slot, column_offsets, Header, SlotError, BLOCK_ROWS, COLUMNS, COMPAT_UNSYNCED,
    SLOT_OFFSETS, SLOT_SIZE, TABLE_OFFSET,
};
use crate::candles::Candles;
use crate::error::{now_ns, IctError, Result};
use crate::own_files::{self, Dir};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// How hard an append pushes its bytes to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Data and header are fdatasync'ed: a returned append survives power loss.
    Full,
    /// No sync: survives a crash of the process, not necessarily of the machine. After a power
    /// loss, rows whose data did not reach the disk fail their checksums and the commit is
    /// rolled back to the older header slot (or the file reported corrupt) — never served.
    /// Readers check the rows of such commits when they open the file, so once more than one
    /// block (65,536 rows) is unsynced the append syncs as `Full` does.
    Os,
}

use crate::error::io_error as io;

fn corrupt(path: &Path, detail: impl Into<String>) -> IctError {
    IctError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// The slot in charge and, when the other slot is valid too, that older commit (the fallback
/// when the newer one was written with `durability="os"` and its data did not all land).
struct Slots {
    slot: usize,
    header: Header,
    older: Option<Header>,
    /// A slot failed to decode (torn by a commit being written, or damaged).
    damaged: bool,
}

/// Reads both slots and returns the one to trust (and its index), checking the file is as
/// long as that header's layout requires *before* anything maps it.
fn read_header(file: &File, path: &Path) -> Result<Slots> {
    let len = file.metadata().map_err(io(path))?.len();
    if len < TABLE_OFFSET {
        return Err(corrupt(
            path,
            format!("file is {len} bytes, shorter than its header"),
        ));
    }
    let mut slots = vec![0u8; 2 * SLOT_SIZE];
    let mut decoded;
    let mut attempt = 0;
    loop {
        file.read_exact_at(&mut slots, SLOT_OFFSETS[0])
            .map_err(io(path))?;
        decoded = [
            Header::decode(&slots[..SLOT_SIZE]),
            Header::decode(&slots[SLOT_SIZE..]),
        ];
        // A slot that fails its checksum may be one the writer is rewriting right now (a read
        // racing a write of the same page can see half of each): read again before falling
        // back to the other slot, so a reader does not step back to an older commit. Lasting
        // damage costs a few microseconds here and is reported by verify().
        if decoded
            .iter()
            .all(|d| !matches!(d, Err(SlotError::BadChecksum)))
            || attempt == 4
        {
            break;
        }
        attempt += 1;
        std::thread::sleep(std::time::Duration::from_micros(5 << attempt));
    }
    let [a, b] = decoded.clone();
    let (slot, header) = choose_slot(a, b)
        .map_err(|(ea, eb)| corrupt(path, format!("no usable header slot (A: {ea}; B: {eb})")))?;
    let older = decoded[1 - slot]
        .clone()
        .ok()
        .filter(|o| o.sequence < header.sequence);
    let needed = header
        .file_len()
        .map_err(|e| corrupt(path, e.to_string()))?;
    if len < needed {
        return Err(corrupt(
            path,
            format!("file is {len} bytes, its header needs {needed} (truncated)"),
        ));
    }
    let damaged = decoded.iter().any(std::result::Result::is_err);
    Ok(Slots {
        slot,
        header,
        older,
        damaged,
    })
}

/// The commit to trust, given the file's bytes: the newest slot, unless it was committed
/// without a sync and the rows it did not know to be synced fail their checksums (a power
/// loss after `durability="os"` appends); then the older slot, if its own data holds. Returns
/// the slot, its header and, after a fallback, the header that was rolled back.
fn settle(bytes: &[u8], path: &Path, slots: Slots) -> Result<(usize, Header, Option<Header>)> {
    let Slots {
        slot,
        header,
        older,
        ..
    } = slots;
    if !header.unsynced() {
        return Ok((slot, header, None));
    }
    let damage = data_damage(bytes, path, &header, header.synced_rows / BLOCK_ROWS)?;
    let Some(first) = damage.first() else {
        return Ok((slot, header, None));
    };
    let what = format!(
        "the last commit (durability \"os\", rows {}..{}) did not reach the disk whole \
         (column '{}' rows {}..{} fail their checksum)",
        header.synced_rows, header.committed_rows, first.column, first.rows.0, first.rows.1
    );
    let fits = |o: &Header| o.file_len().is_ok_and(|len| len <= bytes.len() as u64);
    match older.filter(fits) {
        Some(o)
            if !o.unsynced()
                || data_damage(bytes, path, &o, o.synced_rows / BLOCK_ROWS)?.is_empty() =>
        {
            Ok((1 - slot, o, Some(header)))
        }
        _ => Err(corrupt(
            path,
            format!("{what}, and no older consistent commit is left"),
        )),
    }
}

/// Damaged blocks (and the checksum table) from `from_block` on, checked against `header`.
fn data_damage(bytes: &[u8], path: &Path, h: &Header, from_block: u64) -> Result<Vec<Damage>> {
    let mut damage = Vec::new();
    let table_len = (h.sealed_blocks * 48) as usize;
    let table = bytes
        .get(TABLE_OFFSET as usize..TABLE_OFFSET as usize + table_len)
        .ok_or_else(|| corrupt(path, "checksum table outside the file"))?;
    if xxh3_64(table) != h.chain_hash {
        damage.push(Damage {
            column: "checksum table",
            block: None,
            rows: (0, h.sealed_blocks * BLOCK_ROWS),
        });
    }
    let offsets = column_offsets(h.capacity_rows).map_err(slot_error(path))?;
    for (c, (name, _)) in COLUMNS.iter().enumerate() {
        let start = offsets[c] as usize;
        let column = bytes
            .get(start..start + h.committed_rows as usize * 8)
            .ok_or_else(|| corrupt(path, "column region outside the file"))?;
        for block in from_block..=h.sealed_blocks {
            // block <= sealed_blocks, so lo <= committed: the tail may be empty, and an
            // empty tail hashes to the empty-input checksum the writer stored.
            let lo = block * BLOCK_ROWS;
            let hi = ((block + 1) * BLOCK_ROWS).min(h.committed_rows);
            let sum = xxh3_64(&column[(lo * 8) as usize..(hi * 8) as usize]);
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

/// Maps a file read-only.
fn map_file(file: &File, path: &Path) -> Result<memmap2::Mmap> {
    // SAFETY: the store never truncates or rewrites committed bytes of a file in place
    // (appends go beyond the committed rows, growth renames a new file over the name), and
    // callers checked the length against the header first. A foreign tool that truncates
    // the file could still cause SIGBUS; the store documents that.
    unsafe { memmap2::Mmap::map(file) }.map_err(io(path))
}

fn slot_error(path: &Path) -> impl Fn(SlotError) -> IctError + '_ {
    move |e| corrupt(path, e.to_string())
}

/// The writer of one series file. Not `Clone`: one writer per file (the store adds the lock
/// file that enforces it across processes).
pub struct SeriesWriter {
    /// The file's path (for messages).
    path: PathBuf,
    /// The directory holding it, and its name there: growth creates and renames by name
    /// under this handle, never through a path that could have become a link.
    dir: Dir,
    name: String,
    file: File,
    header: Header,
    /// Index of the slot holding `header` (the next commit writes the other one, except as
    /// `durable_slot` says).
    slot: usize,
    /// The slot holding the newest commit known to be on stable storage, if known. An `Os`
    /// commit never overwrites it (it rewrites its own unsynced slot instead), so a power
    /// loss can cost the rows of `Os` appends but never those of a returned `Full` append.
    /// (A process crash cannot tear that rewrite: it is one page-aligned 4 KiB `pwrite`,
    /// which Linux copies whole before it acts on a fatal signal.)
    durable_slot: Option<usize>,
    /// Running checksums of the tail (unsealed) block, one per column.
    tail: [Xxh3; 6],
    /// Tests stop the protocol after this step, as a crash there would.
    #[cfg(test)]
    crash_after: Option<Step>,
    /// Tests record every write and sync here, to replay crashes (the crash-simulating layer).
    #[cfg(test)]
    journal: Option<Vec<Op>>,
}

/// One recorded I/O operation of the writer.
#[cfg(test)]
#[derive(Debug, Clone)]
enum Op {
    Write(u64, Vec<u8>),
    Sync,
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
        let (dir, name) = own_files::parent_of(path).map_err(io(path))?;
        Self::create_in(&dir, &name, symbol, timeframe_seconds, capacity)
    }

    /// Creates a new, empty series file `name` in `dir` (fails if the name exists in any
    /// form: exclusive, and without following links, so a creation never truncates
    /// anything).
    pub fn create_in(
        dir: &Dir,
        name: &str,
        symbol: &str,
        timeframe_seconds: u64,
        capacity: u64,
    ) -> Result<Self> {
        let path = dir.join(name);
        let header = Header::new(symbol, timeframe_seconds, capacity.max(1));
        let file = dir.create_new(name).map_err(io(&path))?;
        // The file is this call's own from here: a failure below removes it again (by name
        // under the same directory handle).
        let handle = dir.try_clone().map_err(io(&path));
        handle
            .and_then(|handle| Self::start(handle, name, file, header))
            .inspect_err(|_| {
                let _ = dir.remove(name);
            })
    }

    /// Sizes a just-created file and commits its empty header to both slots.
    fn start(dir: Dir, name: &str, file: File, header: Header) -> Result<Self> {
        let path = dir.join(name);
        let len = header.file_len().map_err(slot_error(&path))?;
        file.set_len(len).map_err(io(&path))?;
        let mut writer = Self {
            path,
            dir,
            name: name.to_string(),
            file,
            header,
            slot: 1,
            durable_slot: None,
            tail: std::array::from_fn(|_| Xxh3::new()),
            #[cfg(test)]
            crash_after: None,
            #[cfg(test)]
            journal: None,
        };
        // Both slots start valid, so verify() can report any slot that later goes bad.
        writer.commit(Durability::Os)?;
        writer.commit(Durability::Full)?;
        Ok(writer)
    }

    /// Opens an existing series file for appending; recomputes the tail checksums from the
    /// committed rows and refuses a file whose tail does not match its header.
    pub fn open(path: &Path) -> Result<Self> {
        let (dir, name) = own_files::parent_of(path).map_err(io(path))?;
        Self::open_in(&dir, &name)
    }

    /// [`SeriesWriter::open`] of the file `name` in `dir`.
    pub fn open_in(dir: &Dir, name: &str) -> Result<Self> {
        let path = &dir.join(name);
        // A regular file with one name, not through a link: the write lands in this file.
        let file = dir.open_write(name, false).map_err(io(path))?;
        let dir = dir.try_clone().map_err(io(path))?;
        let slots = read_header(&file, path)?;
        let older_synced = slots.older.as_ref().is_some_and(|o| !o.unsynced());
        // Roll back a commit whose unsynced data did not land, as readers do.
        let (slot, header, rolled_back) = settle(&map_file(&file, path)?, path, slots)?;
        if let Some(newer) = &rolled_back {
            log::warn!(
                target: "ictcore.store",
                "{}: rolled back an unsynced commit (rows {}..{} did not all reach the disk \
                 before a crash or power loss); the series ends at row {}",
                path.display(),
                header.committed_rows,
                newer.committed_rows,
                header.committed_rows
            );
        }
        let durable_slot = if !header.unsynced() {
            Some(slot)
        } else if older_synced && rolled_back.is_none() {
            Some(1 - slot)
        } else {
            None // the next commit syncs
        };
        let mut writer = Self {
            path: path.to_path_buf(),
            dir,
            name: name.to_string(),
            file,
            header,
            slot,
            durable_slot,
            tail: std::array::from_fn(|_| Xxh3::new()),
            #[cfg(test)]
            crash_after: None,
            #[cfg(test)]
            journal: None,
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
        // Readers check the rows of unsynced commits; a sync now and then bounds that work.
        let durability = if needed - self.header.synced_rows > BLOCK_ROWS {
            Durability::Full
        } else {
            durability
        };
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
            self.put(bytes, offsets[c] + start * 8)?;
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
                self.put(&entry, TABLE_OFFSET + block * 48)?;
                self.header.sealed_blocks = block + 1;
            }
            row = end;
        }
        Ok(())
    }

    /// Publishes the current in-memory header in the inactive slot (an `Os` commit: in the
    /// slot that does not hold the newest synced commit).
    fn commit(&mut self, durability: Durability) -> Result<()> {
        // With no slot known to be synced, an unsynced commit could leave none: sync this one.
        let durability = match self.durable_slot {
            None => Durability::Full,
            Some(_) => durability,
        };
        if durability == Durability::Full {
            self.sync()?;
        }
        #[cfg(test)]
        self.crash_point(Step::DataSynced)?;
        let mut table = vec![0u8; (self.header.sealed_blocks * 48) as usize];
        self.file
            .read_exact_at(&mut table, TABLE_OFFSET)
            .map_err(io(&self.path))?;
        self.header.chain_hash = xxh3_64(&table);
        self.header.tail_checksums = std::array::from_fn(|c| self.tail[c].digest());
        if durability == Durability::Full {
            self.header.features.compat &= !COMPAT_UNSYNCED;
            self.header.synced_rows = self.header.committed_rows;
        } else {
            self.header.features.compat |= COMPAT_UNSYNCED;
        }
        self.header.sequence = self
            .header
            .sequence
            .checked_add(1)
            .ok_or_else(|| corrupt(&self.path, "the commit sequence is exhausted"))?;
        self.header.writer_pid = u64::from(std::process::id());
        self.header.commit_time_ns = now_ns();
        let next = if durability == Durability::Os && self.durable_slot == Some(1 - self.slot) {
            self.slot
        } else {
            1 - self.slot
        };
        let bytes = self.header.encode().map_err(slot_error(&self.path))?;
        #[cfg(test)]
        if self.crash_after == Some(Step::SlotTorn) {
            // Half a slot reaches the file: the write was interrupted.
            self.put(&bytes[..SLOT_SIZE / 2], SLOT_OFFSETS[next])?;
            self.crash_point(Step::SlotTorn)?;
        }
        self.put(&bytes[..], SLOT_OFFSETS[next])?;
        if durability == Durability::Full {
            self.sync()?;
            self.durable_slot = Some(next);
        }
        self.slot = next;
        Ok(())
    }

    fn put(&mut self, bytes: &[u8], offset: u64) -> Result<()> {
        #[cfg(test)]
        if let Some(journal) = &mut self.journal {
            journal.push(Op::Write(offset, bytes.to_vec()));
        }
        self.file
            .write_all_at(bytes, offset)
            .map_err(io(&self.path))
    }

    fn sync(&mut self) -> Result<()> {
        #[cfg(test)]
        if let Some(journal) = &mut self.journal {
            journal.push(Op::Sync);
        }
        self.file.sync_data().map_err(io(&self.path))
    }

    /// Moves the committed rows into a new file of `capacity` rows, renamed over this one.
    fn grow(&mut self, capacity: u64) -> Result<()> {
        let tmp = own_files::temp_name(&self.name);
        let mut grown = SeriesWriter::create_in(
            &self.dir,
            &tmp,
            &self.header.symbol,
            self.header.timeframe_seconds,
            capacity,
        )?;
        // The temp file is this writer's own from here: removed on any failure (a full disk
        // must not leave it behind).
        let result = self.fill_and_publish(&mut grown, &tmp);
        if result.is_err() {
            let _ = self.dir.remove(&tmp);
            return result;
        }
        grown.path = self.path.clone();
        grown.name = self.name.clone();
        *self = grown;
        Ok(())
    }

    /// Copies the committed rows into `grown` (a new file named `tmp`), commits it and
    /// renames it over this writer's file.
    fn fill_and_publish(&mut self, grown: &mut SeriesWriter, tmp: &str) -> Result<()> {
        let h = &self.header;
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
        self.dir.rename(tmp, &self.name).map_err(io(&self.path))?;
        let _ = self.dir.sync(); // best effort: the rename's directory entry
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
    /// Rows of a newer unsynced commit that failed its checksums and was rolled back.
    rolled_back: Option<(u64, u64)>,
    /// What [`SeriesReader::check_blocks`] has verified of this mapping (shared by every
    /// reader of it).
    verified: Arc<Verified>,
}

/// The blocks of one mapping whose checksums were verified in this process (T4): a sealed
/// block is checked the first time it is read, the tail once per commit.
#[derive(Debug)]
struct Verified {
    /// One bit per sealed block of the file's capacity.
    blocks: Box<[AtomicU64]>,
    /// The commit sequence (+1) whose tail rows were checked; 0 for none.
    tail_of: AtomicU64,
}

impl Verified {
    fn new(capacity_rows: u64) -> Self {
        let blocks = capacity_rows.div_ceil(BLOCK_ROWS).div_ceil(64);
        Self {
            blocks: (0..blocks).map(|_| AtomicU64::new(0)).collect(),
            tail_of: AtomicU64::new(0),
        }
    }

    fn has(&self, block: u64) -> bool {
        self.blocks
            .get((block / 64) as usize)
            .is_some_and(|w| w.load(Ordering::Acquire) & (1 << (block % 64)) != 0)
    }

    fn set(&self, block: u64) {
        if let Some(w) = self.blocks.get((block / 64) as usize) {
            w.fetch_or(1 << (block % 64), Ordering::Release);
        }
    }
}

fn identity(file: &File, path: &Path) -> Result<(u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata().map_err(io(path))?;
    Ok((m.dev(), m.ino(), m.len()))
}

impl SeriesReader {
    /// Maps a series file read-only after validating its header and length. Takes no lock.
    /// Its data blocks are not checked yet: see [`SeriesReader::check_blocks`].
    pub fn open(path: &Path) -> Result<Self> {
        let (dir, name) = own_files::parent_of(path).map_err(io(path))?;
        Self::open_in(&dir, &name)
    }

    /// [`SeriesReader::open`] of the file `name` in `dir` (never through a link).
    pub fn open_in(dir: &Dir, name: &str) -> Result<Self> {
        let path = &dir.join(name);
        let file = dir.open_read(name).map_err(io(path))?;
        let slots = read_header(&file, path)?;
        let map = map_file(&file, path)?;
        let (_, header, newer) = settle(&map, path, slots)?;
        Ok(Self {
            path: path.to_path_buf(),
            map: Arc::new(map),
            rolled_back: newer.map(|n| (header.committed_rows, n.committed_rows)),
            verified: Arc::new(Verified::new(header.capacity_rows)),
            header,
            identity: identity(&file, path)?,
        })
    }

    /// The series as it is now: re-reads the header, and keeps the existing mapping when the
    /// file is the same (appends within capacity do not change its length or inode), so views
    /// of one series share memory. A grown or rewritten file is mapped anew. A file changed
    /// in place by another program (its commit went back, or its sealed blocks changed) is an
    /// error: the rows this reader saw are no longer what the file holds.
    pub fn refreshed(&self) -> Result<Self> {
        let (dir, name) = own_files::parent_of(&self.path).map_err(io(&self.path))?;
        self.refreshed_in(&dir, &name)
    }

    /// [`SeriesReader::refreshed`], the file being `name` in `dir`.
    pub fn refreshed_in(&self, dir: &Dir, name: &str) -> Result<Self> {
        let file = dir.open_read(name).map_err(io(&self.path))?;
        if identity(&file, &self.path)? != self.identity {
            return Self::open_in(dir, name);
        }
        let slots = read_header(&file, &self.path)?;
        if slots.header == self.header && self.rolled_back.is_none() {
            return Ok(self.clone());
        }
        let changed_in_place = |detail: String| {
            corrupt(
                &self.path,
                format!(
                    "the file was changed in place by another program ({detail}); ictcore \
                     serves none of it through this store (reading it again opens it as it is)"
                ),
            )
        };
        if slots.header.sequence <= self.header.sequence {
            // A commit never goes back, and one sequence is one header. A slot torn by a
            // commit being written right now may hide the newest one: then keep what this
            // reader has (a later refresh sees the commit).
            if slots.damaged && slots.header.sequence < self.header.sequence {
                return Ok(self.clone());
            }
            return Err(changed_in_place(format!(
                "it commits sequence {} with {} rows, this store read sequence {} with {} rows",
                slots.header.sequence,
                slots.header.committed_rows,
                self.header.sequence,
                self.header.committed_rows
            )));
        }
        let needed = slots.header.file_len().map_err(slot_error(&self.path))?;
        if needed > self.map.len() as u64 {
            return Self::open_in(dir, name);
        }
        let (_, header, newer) = settle(&self.map, &self.path, slots)?;
        if header.sequence < self.header.sequence {
            return Ok(self.clone()); // rolled back past what this reader serves: keep it
        }
        // Sealed blocks are written once: the table entries this reader knew must be there.
        let known = (self.header.sealed_blocks * 48) as usize;
        let table = self
            .map
            .get(TABLE_OFFSET as usize..TABLE_OFFSET as usize + known)
            .ok_or_else(|| corrupt(&self.path, "checksum table outside the file"))?;
        if header.sealed_blocks < self.header.sealed_blocks
            || header.committed_rows < self.header.committed_rows
            || xxh3_64(table) != self.header.chain_hash
        {
            return Err(changed_in_place(
                "its sealed blocks are not the ones committed before".into(),
            ));
        }
        Ok(Self {
            path: self.path.clone(),
            map: Arc::clone(&self.map),
            rolled_back: newer.map(|n| (header.committed_rows, n.committed_rows)),
            header,
            identity: self.identity,
            verified: Arc::clone(&self.verified),
        })
    }

    /// The sealed-block checksum table of this reader's commit, checked against the header
    /// (whose slot checksum covers its chain hash).
    fn checked_table(&self) -> Result<&[u8]> {
        let h = &self.header;
        let table_len = (h.sealed_blocks * 48) as usize;
        let table = self
            .map
            .get(TABLE_OFFSET as usize..TABLE_OFFSET as usize + table_len)
            .ok_or_else(|| corrupt(&self.path, "checksum table outside the file"))?;
        if xxh3_64(table) != h.chain_hash {
            return Err(corrupt(
                &self.path,
                "the sealed-block checksum table does not match its header (run verify())",
            ));
        }
        Ok(table)
    }

    /// A 128-bit identity of one column's committed rows, derived from the checksums the
    /// writer recorded (the sealed-block table, checked against the header, and the tail
    /// checksum) without reading the rows: for cache keys of whole stored series. Equal
    /// contents written by ictcore give equal digests; a cached result found through it
    /// belongs to exactly the committed rows (the rows themselves are checked by
    /// [`SeriesReader::check_blocks`] before anything is computed from them).
    pub fn column_digest(&self, column: usize) -> Result<[u8; 16]> {
        let h = &self.header;
        let table = self.checked_table()?;
        let tail = h
            .tail_checksums
            .get(column)
            .ok_or_else(|| IctError::parameter("column", format!("{column} is not 0..5")))?;
        let mut record = Xxh3::new();
        record.update(b"ictcore-series-blocks-1");
        record.update(&(column as u64).to_le_bytes());
        record.update(&h.committed_rows.to_le_bytes());
        for entry in table.chunks_exact(48) {
            record.update(&entry[column * 8..column * 8 + 8]);
        }
        record.update(&tail.to_le_bytes());
        Ok(record.digest128().to_le_bytes())
    }

    /// A 128-bit identity of the first `rows` committed rows (every column), for keys of
    /// what was computed from exactly that prefix (a resumable run's state): the checksums
    /// the writer recorded for the sealed blocks below it, and a hash of the rows of the
    /// block it ends in (at most [`BLOCK_ROWS`] rows, never the whole prefix). It depends
    /// only on the rows: the same prefix written in one batch or appended bar by bar, read
    /// now or after more appends, has the same identity.
    pub fn prefix_digest(&self, rows: u64) -> Result<[u8; 16]> {
        let h = &self.header;
        if rows > h.committed_rows {
            return Err(IctError::parameter(
                "rows",
                format!("{rows} rows of a series of {}", h.committed_rows),
            ));
        }
        let table = self.checked_table()?;
        let offsets = column_offsets(h.capacity_rows).map_err(slot_error(&self.path))?;
        let hashed = |c: usize, lo: u64, hi: u64| -> Result<u64> {
            let start = offsets[c] as usize + (lo * 8) as usize;
            self.map
                .get(start..start + ((hi - lo) * 8) as usize)
                .map(xxh3_64)
                .ok_or_else(|| corrupt(&self.path, "column region outside the file"))
        };
        let mut record = Xxh3::new();
        record.update(b"ictcore-series-prefix-1");
        record.update(&rows.to_le_bytes());
        let full = rows / BLOCK_ROWS;
        for block in 0..full {
            for c in 0..COLUMNS.len() {
                // A sealed block's recorded checksum is the xxh3 of the same bytes.
                let sum = if block < h.sealed_blocks {
                    let at = (block * 48) as usize + c * 8;
                    table
                        .get(at..at + 8)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_le_bytes)
                        .ok_or_else(|| corrupt(&self.path, "block checksum table too short"))?
                } else {
                    hashed(c, block * BLOCK_ROWS, (block + 1) * BLOCK_ROWS)?
                };
                record.update(&sum.to_le_bytes());
            }
        }
        for c in 0..COLUMNS.len() {
            // The committed rows of the open block: their checksum was recorded too (the
            // xxh3 of the same bytes, checked by `check_blocks` before rows are analysed).
            let sum = match h.tail_checksums.get(c) {
                Some(&tail) if rows == h.committed_rows && full == h.sealed_blocks => tail,
                _ => hashed(c, full * BLOCK_ROWS, rows)?,
            };
            record.update(&sum.to_le_bytes());
        }
        Ok(record.digest128().to_le_bytes())
    }

    /// Checks the rows this reader serves against their checksums, once per block and
    /// mapping in this process (T4): each sealed block the first time, the tail once per
    /// commit, and the checksum table against the header. Damage is a
    /// [`IctError::Corrupt`] naming the file, column and rows, so damaged data is never
    /// analysed. About 20 GB/s of hashing, paid once per process for each block.
    pub fn check_blocks(&self) -> Result<()> {
        let h = &self.header;
        let v = &self.verified;
        let tail_done = v.tail_of.load(Ordering::Acquire) == h.sequence.wrapping_add(1);
        if tail_done && (0..h.sealed_blocks).all(|b| v.has(b)) {
            return Ok(());
        }
        let table = self.checked_table()?;
        let offsets = column_offsets(h.capacity_rows).map_err(slot_error(&self.path))?;
        let check = |block: u64, expected: &dyn Fn(usize) -> u64| -> Result<()> {
            let lo = block * BLOCK_ROWS;
            let hi = ((block + 1) * BLOCK_ROWS).min(h.committed_rows);
            for (c, (name, _)) in COLUMNS.iter().enumerate() {
                let start = offsets[c] as usize + (lo * 8) as usize;
                let bytes = self
                    .map
                    .get(start..start + ((hi - lo) * 8) as usize)
                    .ok_or_else(|| corrupt(&self.path, "column region outside the file"))?;
                if xxh3_64(bytes) != expected(c) {
                    return Err(corrupt(
                        &self.path,
                        format!(
                            "column '{name}' rows {lo}..{hi} (block {block}) do not match their \
                             checksum: the data is damaged and is not served"
                        ),
                    ));
                }
            }
            Ok(())
        };
        for block in 0..h.sealed_blocks {
            if v.has(block) {
                continue;
            }
            let at = (block * 48) as usize;
            check(block, &|c| {
                u64::from_le_bytes(
                    table[at + c * 8..at + c * 8 + 8]
                        .try_into()
                        .unwrap_or([0; 8]),
                )
            })?;
            v.set(block);
        }
        if !tail_done {
            check(h.sealed_blocks, &|c| h.tail_checksums[c])?;
            v.tail_of
                .store(h.sequence.wrapping_add(1), Ordering::Release);
        }
        Ok(())
    }

    /// What identifies this state of the series: the file (device, inode) and the commit
    /// sequence number. Any append or rewrite changes it.
    pub fn version(&self) -> (u64, u64, u64) {
        (self.identity.0, self.identity.1, self.header.sequence)
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

    /// Tells the kernel this process is done with the series' pages for now
    /// (`madvise(DONTNEED)`): they leave this process's resident set and stay in the page
    /// cache, and any later access reads them back, unchanged. Lets the pool stream through
    /// a portfolio larger than the memory it wants to show. Only advice.
    pub fn release_pages(&self) {
        let Ok(offsets) = column_offsets(self.header.capacity_rows) else {
            return;
        };
        let len = self.header.committed_rows as usize * 8;
        for offset in offsets {
            // SAFETY: the mapping is read-only and shared, of a file whose committed bytes are
            // never rewritten in place: dropping its pages loses nothing (they fault back in
            // from the file), and no reference into them becomes invalid.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    offset as usize,
                    len,
                )
            };
        }
    }

    /// The committed rows as candles (checked by the writer when appended; their blocks
    /// are checked against their checksums by [`SeriesReader::check_blocks`]).
    pub fn candles(&self) -> Result<crate::Candles<'_>> {
        Ok(crate::Candles {
            time: self.time()?,
            open: self.values(1)?,
            high: self.values(2)?,
            low: self.values(3)?,
            close: self.values(4)?,
            volume: self.values(5)?,
        })
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
        if let Some(rows) = self.rolled_back {
            damage.push(Damage {
                column: "unsynced commit (rolled back)",
                block: None,
                rows,
            });
        }
        damage.extend(data_damage(&self.map, &self.path, h, 0)?);
        Ok(damage)
    }
}

/// One damaged region found by [`SeriesReader::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Column name, "checksum table", "header slot A"/"B", or "unsynced commit (rolled back)".
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

    /// A prefix's identity depends on its rows only: written in one batch or in many (other
    /// seal times), read before or after later appends; any change below the prefix changes
    /// it, a change after it does not.
    #[test]
    fn prefix_digests_follow_the_rows_only() {
        let d = dir();
        let all = batch(0, 140_100);
        let whole = d.join("whole.ictc");
        let mut w = SeriesWriter::create(&whole, "X", 60, 1000).unwrap();
        w.append(&candles(&all), Durability::Os).unwrap();
        drop(w);
        let pieces = d.join("pieces.ictc");
        let mut w = SeriesWriter::create(&pieces, "X", 60, 1000).unwrap();
        let mut start = 0;
        for size in [1usize, 65_535, 1, 3, 70_000, 4_560] {
            let part = Batch {
                time: all.time[start..start + size].to_vec(),
                price: all.price[start..start + size].to_vec(),
            };
            w.append(&candles(&part), Durability::Os).unwrap();
            start += size;
        }
        assert_eq!(start, 140_100);
        drop(w);
        let (a, b) = (
            SeriesReader::open(&whole).unwrap(),
            SeriesReader::open(&pieces).unwrap(),
        );
        for rows in [0, 1, 65_535, 65_536, 65_537, 131_072, 140_099, 140_100] {
            assert_eq!(
                a.prefix_digest(rows).unwrap(),
                b.prefix_digest(rows).unwrap(),
                "{rows}"
            );
        }
        assert_ne!(a.prefix_digest(100).unwrap(), a.prefix_digest(101).unwrap());
        assert!(a.prefix_digest(140_101).is_err());
        // All the rows of a shorter series (its recorded tail checksums) and the same rows
        // as a prefix of a longer one (hashed): one identity.
        let head = d.join("head.ictc");
        let mut w = SeriesWriter::create(&head, "X", 60, 1000).unwrap();
        let part = Batch {
            time: all.time[..70_001].to_vec(),
            price: all.price[..70_001].to_vec(),
        };
        w.append(&candles(&part), Durability::Os).unwrap();
        drop(w);
        let h = SeriesReader::open(&head).unwrap();
        assert_eq!(
            h.prefix_digest(70_001).unwrap(),
            a.prefix_digest(70_001).unwrap()
        );
        // The same rows with one value changed at row 70,000.
        let mut changed = batch(0, 140_100);
        changed.price[70_000] += 1.0;
        let other = d.join("other.ictc");
        let mut w = SeriesWriter::create(&other, "X", 60, 1000).unwrap();
        w.append(&candles(&changed), Durability::Os).unwrap();
        drop(w);
        let c = SeriesReader::open(&other).unwrap();
        assert_eq!(
            a.prefix_digest(70_000).unwrap(),
            c.prefix_digest(70_000).unwrap()
        );
        assert_ne!(
            a.prefix_digest(70_001).unwrap(),
            c.prefix_digest(70_001).unwrap()
        );
        assert_ne!(
            a.prefix_digest(140_100).unwrap(),
            c.prefix_digest(140_100).unwrap()
        );
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
                w.append(&candles(&batch(0, 30)), Durability::Full).unwrap();
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

    /// A small deterministic generator (xorshift64*) for the crash replays.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The disk image after a power loss at `crash` (an index into the journal): every write
    /// before the last sync before `crash` is on disk; each later write landed whole, not at
    /// all, or torn (any subset of its 512-byte sectors), in any order (SQLite's test6.c idea).
    fn crash_image(base: &[u8], journal: &[Op], crash: usize, rng: &mut Rng) -> Vec<u8> {
        let mut image = base.to_vec();
        let synced = journal[..crash]
            .iter()
            .rposition(|op| matches!(op, Op::Sync))
            .map_or(0, |i| i + 1);
        let apply = |image: &mut Vec<u8>, offset: u64, bytes: &[u8], sectors: Option<&[bool]>| {
            for (k, chunk) in bytes.chunks(512).enumerate() {
                if sectors.is_none_or(|s| s[k]) {
                    let at = offset as usize + k * 512;
                    image[at..at + chunk.len()].copy_from_slice(chunk);
                }
            }
        };
        for op in &journal[..synced] {
            if let Op::Write(offset, bytes) = op {
                apply(&mut image, *offset, bytes, None);
            }
        }
        let mut pending: Vec<&Op> = journal[synced..crash].iter().collect();
        // Shuffle: unsynced writes reach the disk in any order.
        for i in (1..pending.len()).rev() {
            pending.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for op in pending {
            if let Op::Write(offset, bytes) = op {
                match rng.below(3) {
                    0 => {}
                    1 => apply(&mut image, *offset, bytes, None),
                    _ => {
                        let sectors: Vec<bool> = (0..bytes.len().div_ceil(512))
                            .map(|_| rng.below(2) == 0)
                            .collect();
                        apply(&mut image, *offset, bytes, Some(&sectors));
                    }
                }
            }
        }
        image
    }

    /// Promises S1, S2 and S2b against simulated power losses. Records the writes and syncs
    /// of appends, then builds disk images for every crash point with random subsets,
    /// orders and tears of the unsynced writes, and opens each: the rows served are always
    /// exactly one committed state (never a mix, never zeros); with `Full` a returned append
    /// is always there; with `Os` the newest appends may be lost (their commit rolled back
    /// when its rows fail their checksums), never served wrong, and never the rows of an
    /// earlier `Full` append. No image is unreadable. Real power loss cannot be tested in
    /// CI; this replays what a disk may keep of the recorded I/O.
    #[test]
    fn simulated_power_losses_serve_only_committed_states() {
        let d = dir();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut images, mut rolled_back) = (0, 0);
        // (rows already stored, batches appended while recording, capacity): small batches,
        // and one that seals a 65,536-row block (so the checksum table is written too).
        let cases: [(usize, &[usize], u64); 3] = [
            (40, &[25], 200),
            (40, &[25, 30, 10], 200),
            (65_500, &[100], 65_700),
        ];
        for durability in [Durability::Full, Durability::Os] {
            for (case, &(stored, batches, capacity)) in cases.iter().enumerate() {
                let path = d.join(format!("{durability:?}-{case}.ictc"));
                let mut w = SeriesWriter::create(&path, "X", 60, capacity).unwrap();
                w.append(&candles(&batch(0, stored)), Durability::Full)
                    .unwrap();
                let base = std::fs::read(&path).unwrap();
                // The committed states, as row counts: before, and after each batch.
                let mut states = vec![stored];
                let mut all = batch(0, stored);
                w.journal = Some(Vec::new());
                let mut ends = Vec::new(); // journal length when each append returned
                for &n in batches {
                    let next = batch(all.time.len() as i64, n);
                    w.append(&candles(&next), durability).unwrap();
                    ends.push(w.journal.as_ref().unwrap().len());
                    all.time.extend(&next.time);
                    all.price.extend(&next.price);
                    states.push(all.time.len());
                }
                let journal = w.journal.take().unwrap();
                drop(w);
                let trials = if capacity > 10_000 { 6 } else { 40 };
                let image_path = d.join("image.ictc");
                for crash in 0..=journal.len() {
                    for _ in 0..trials {
                        let image = crash_image(&base, &journal, crash, &mut rng);
                        std::fs::write(&image_path, &image).unwrap();
                        images += 1;
                        let opened = SeriesReader::open(&image_path);
                        let r = match (opened, durability) {
                            (Ok(r), _) => r,
                            (Err(e), _) => panic!("{durability:?} case {case} crash {crash}: {e}"),
                        };
                        let rows = r.header().committed_rows as usize;
                        rolled_back += usize::from(r.rolled_back.is_some());
                        assert!(states.contains(&rows), "{rows} rows is no committed state");
                        assert_eq!(
                            r.time().unwrap(),
                            &all.time[..rows],
                            "case {case} crash {crash}"
                        );
                        for column in 1..6 {
                            assert_eq!(r.values(column).unwrap(), &all.price[..rows]);
                        }
                        // Every Full append that returned is there; Os appends may be lost,
                        // never the Full rows stored before them.
                        let returned = ends.iter().filter(|&&end| end <= crash).count();
                        let kept = if durability == Durability::Full {
                            states[returned]
                        } else {
                            stored
                        };
                        assert!(
                            rows >= kept,
                            "{durability:?} case {case} crash {crash}: {rows} < {kept}"
                        );
                        // The writer agrees and can carry on from the state served.
                        let mut again = SeriesWriter::open(&image_path).unwrap();
                        assert_eq!(again.header().committed_rows as usize, rows);
                        let more = batch(rows as i64, 3);
                        again.append(&candles(&more), Durability::Full).unwrap();
                        let after = SeriesReader::open(&image_path).unwrap();
                        assert_eq!(after.header().committed_rows as usize, rows + 3);
                        assert!(after
                            .verify()
                            .unwrap()
                            .iter()
                            .all(|d| d.column.starts_with("header slot")));
                    }
                }
            }
        }
        // The rollback path ran (an unsynced commit whose rows did not all land).
        eprintln!("{images} crash images, {rolled_back} rolled back an unsynced commit");
        assert!(
            images > 1000 && rolled_back > 50,
            "{images} images, {rolled_back}"
        );
        std::fs::remove_dir_all(d).unwrap();
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
        w.append(&candles(&batch(0, 10)), Durability::Full).unwrap();
        w.append(&candles(&batch(10, 10)), Durability::Os).unwrap();
        let newest = SLOT_OFFSETS[w.slot];
        drop(w);
        // Tear the newest slot: the reader falls back to the 10-row commit.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
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
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
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

    /// Promise S5 on a small file (two blocks, the second one the tail): random bit flips,
    /// every zeroed page and a truncation at every page boundary of the data regions are
    /// each reported (the damaged column and block, or "truncated" at open), never a panic.
    #[test]
    fn bit_flips_zeroed_pages_and_truncations_are_all_reported() {
        let d = dir();
        let path = d.join("s.ictc");
        let (rows, capacity) = (66_000u64, 66_100u64);
        let mut w = SeriesWriter::create(&path, "X", 60, capacity).unwrap();
        w.append(&candles(&batch(1, rows as usize)), Durability::Full)
            .unwrap();
        drop(w);
        let pristine = std::fs::read(&path).unwrap();
        let offsets = column_offsets(capacity).unwrap();
        let locate = |at: u64| -> (&'static str, u64) {
            let c = offsets.iter().rposition(|&o| o <= at).unwrap();
            (COLUMNS[c].0, (at - offsets[c]) / 8 / BLOCK_ROWS)
        };
        let check = |image: &[u8], at: u64, what: &str| {
            std::fs::write(&path, image).unwrap();
            let damage = SeriesReader::open(&path).unwrap().verify().unwrap();
            let (column, block) = locate(at);
            assert!(
                damage
                    .iter()
                    .any(|x| x.column == column && x.block == Some(block)),
                "{what} at {at} ({column} block {block}) not reported: {damage:?}"
            );
        };
        let mut rng = Rng(7);
        for _ in 0..200 {
            let c = rng.below(6) as usize;
            let at = offsets[c] + rng.below(rows * 8);
            let mut image = pristine.clone();
            image[at as usize] ^= 1 << rng.below(8);
            check(&image, at, "bit flip");
        }
        // Every page holding committed rows, zeroed (the first row is never all zero).
        for &offset in &offsets {
            let mut page = offset;
            while page < offset + rows * 8 {
                let mut image = pristine.clone();
                image[page as usize..(page + 4096) as usize].fill(0);
                check(&image, page, "zeroed page");
                page += 4096;
            }
        }
        // Truncation at every page boundary of the data regions: refused at open, by name.
        let mut len = offsets[0];
        while len < pristine.len() as u64 {
            std::fs::write(&path, &pristine[..len as usize]).unwrap();
            let err = SeriesReader::open(&path).unwrap_err();
            assert!(err.to_string().contains("truncated"), "{len}: {err}");
            len += 4096;
        }
        std::fs::remove_dir_all(d).unwrap();
    }
}
