//! Resumed native runs: a native detector over a whole stored series, with a disk cache,
//! steps only the bars appended since its last run.
//!
//! Each run stores an [`Entry`] under the identity of the rows it stepped to: the
//! detector's state (what is still open, [`crate::detect::checkpoint::run_resumable`]) and
//! the rows its tables gained since the entry it resumed from, which it links to. The
//! tables are the rows along the links, oldest first, so a cycle writes what it added, not
//! the history; every [`MAX_LINKS`]th entry holds every row again, so a run reads at most
//! that many. Entries go to the disk tier (for other processes) and the memory tier (so
//! the next run in this process reads no file), and the pool remembers the last one per
//! series and detector ([`LastState`]).
//!
//! A state is found only by the identity of exactly the rows it was made on
//! ([`SeriesReader::prefix_digest`]): a rewritten series finds none and runs from the first
//! bar; a damaged, foreign or evicted entry or link is skipped the same way.

use super::{spec, Spec, Task};
use crate::cache::disk::{DiskTier, Lookup};
use crate::cache::{AnalysisCache, Key};
use crate::detect::checkpoint::run_resumable;
use crate::detect::NativeSpec;
use crate::error::{IctError, Result};
use crate::param::Param;
use crate::store::SeriesReader;
use crate::table::{Column, Dtype, ResultTable};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The format of stored run states (a cache key parameter: another format is another key).
const RUN_STATE_FORMAT: i64 = 3;

/// The most entries a chain of run states links back through before one holds every row
/// again: a run reads at most this many entries, and rewrites the whole tables once in
/// this many runs.
const MAX_LINKS: u32 = 16;

/// Leading columns of a stored entry before its rows: `state`, `link`, `depth`.
const ENTRY_HEAD: usize = 3;

/// Per series and native detector, the last state this pool stored or found.
pub type Resume = Mutex<HashMap<(String, String, Key), LastState>>;

/// The last state of one series and detector: while the file is the same (device, inode),
/// its first rows are (the store only appends to a file), so the key needs no rehashing.
#[derive(Debug, Clone, Copy)]
pub struct LastState {
    rows: usize,
    key: Key,
    file: (u64, u64),
    /// The cache key under which the tables of these rows were handed out (in the memory
    /// tier while it keeps them: the next run appends to them instead of reading links).
    content: Option<Key>,
}

/// What a resuming native run uses: its detector, the stored series, the cache (with its
/// disk tier, where states are kept) and the pool's index of the last states.
#[derive(Clone, Copy)]
pub(super) struct Resuming<'s, 'a> {
    native: &'s NativeSpec,
    reader: &'a SeriesReader,
    stored: Stored<'a>,
    index: &'a Resume,
}

/// Where run states are kept: whole entries in the cache's disk tier, and their heads
/// (state and link, not the rows) in its memory tier, so the next run in this process
/// reads no file for its state.
#[derive(Clone, Copy)]
struct Stored<'a> {
    cache: &'a AnalysisCache,
    disk: &'a DiskTier,
}

impl Stored<'_> {
    /// Stores `entry` (an [`Entry::encode`]d table) and gives its rows back.
    fn write(&self, key: Key, mut entry: ResultTable) -> Piece {
        self.cache.write_aside(&key, "native-state", &entry);
        let at = ENTRY_HEAD.min(entry.columns.len());
        let rows = ResultTable {
            columns: entry.columns.drain(at..).collect(),
            meta: entry.meta.clone(),
        };
        self.cache.remember(key, Arc::new(entry));
        Piece {
            table: Arc::new(rows),
            first: 0,
        }
    }

    /// The entry table stored under `key`: with `rows`, the whole entry from disk; without,
    /// its head from the memory tier when it is there. An entry read from disk leaves its
    /// head in the memory tier.
    fn read(&self, key: &Key, rows: bool) -> Option<Arc<ResultTable>> {
        if !rows {
            if let Some(head) = self.cache.recall(key) {
                return Some(head);
            }
        }
        let Lookup::Hit(table, _) = self.disk.get(key) else {
            return None;
        };
        let head = ResultTable {
            columns: table.columns.iter().take(ENTRY_HEAD).cloned().collect(),
            meta: table.meta.clone(),
        };
        self.cache.remember(*key, Arc::new(head));
        Some(Arc::new(table))
    }
}

/// The entry a run state links to, and how many links lead back from it.
#[derive(Debug, Clone, Copy)]
struct Link {
    key: Key,
    depth: u32,
}

/// A stored run state, as the cache table it is kept as: `state` (the detector's state
/// after a prefix of a series), `link` (0 or 16 bytes: the key of the entry before),
/// `depth` (links behind it), then the rows its tables gained since the entry it links to
/// (all rows when it links to none). A depth of [`STATE_ONLY`] marks an entry without rows
/// (a series whose rows read back slower than they recompute): it resumes runs that do not
/// need the rows before it, and its tables are not known from the cache.
struct Entry {
    table: Arc<ResultTable>,
    link: Option<Key>,
    depth: u32,
    rows_kept: bool,
}

/// The `depth` of an entry that holds a state and no rows.
const STATE_ONLY: i64 = -1;

impl Entry {
    fn encode(state: &[u8], link: Option<Key>, depth: u32, rows: ResultTable) -> ResultTable {
        Self::encode_as(state, link, i64::from(depth), rows)
    }

    /// An entry of a state alone.
    fn encode_state(state: &[u8]) -> ResultTable {
        Self::encode_as(state, None, STATE_ONLY, ResultTable::default())
    }

    fn encode_as(state: &[u8], link: Option<Key>, depth: i64, rows: ResultTable) -> ResultTable {
        let mut columns = vec![
            Column::u8("state", state),
            Column::u8("link", link.as_ref().map_or(&[][..], |k| &k.0[..])),
            Column::i64("depth", vec![depth]),
        ];
        columns.extend(rows.columns);
        ResultTable {
            columns,
            meta: rows.meta,
        }
    }

    /// The entry stored under `key`, if there is one that reads as an entry: with its
    /// rows, or perhaps only its head (state and link) when `rows` is false.
    fn read(stored: Stored<'_>, key: &Key, rows: bool) -> Option<Entry> {
        let table = stored.read(key, rows)?;
        let named = |i: usize, name: &str, dtype: Dtype| {
            table
                .columns
                .get(i)
                .is_some_and(|c| c.name == name && c.dtype == dtype)
        };
        if !(named(0, "state", Dtype::U8)
            && named(1, "link", Dtype::U8)
            && named(2, "depth", Dtype::I64))
        {
            return None;
        }
        let link = match table.columns.get(1)?.bytes() {
            [] => None,
            bytes => Some(Key(bytes.try_into().ok()?)),
        };
        let depth = *table.columns.get(2)?.clone().into_vec::<i64>().first()?;
        let rows_kept = depth != STATE_ONLY;
        let depth = u32::try_from(depth.max(0))
            .ok()
            .filter(|d| *d <= MAX_LINKS)?;
        if link.is_some() != (depth > 0) {
            return None;
        }
        Some(Entry {
            table,
            link,
            depth,
            rows_kept,
        })
    }

    fn state(&self) -> &[u8] {
        self.table.columns.first().map_or(&[], Column::bytes)
    }

    fn rows(&self) -> Piece {
        Piece {
            table: Arc::clone(&self.table),
            first: ENTRY_HEAD,
        }
    }
}

/// Rows of a native table held in pieces: the columns of `table` from `first` on.
#[derive(Clone)]
struct Piece {
    table: Arc<ResultTable>,
    first: usize,
}

impl Piece {
    fn columns(&self) -> &[Column] {
        self.table.columns.get(self.first..).unwrap_or(&[])
    }
}

/// The pieces' rows as one table (a lone piece of whole columns is that table, not a copy).
fn into_table(pieces: Vec<Piece>) -> Result<ResultTable> {
    let mut pieces = with_rows(pieces);
    if let [piece] = pieces.as_mut_slice() {
        if piece.first == 0 {
            if let Some(table) = Arc::get_mut(&mut piece.table) {
                return Ok(std::mem::take(table));
            }
        }
    }
    join(&pieces)
}

/// The pieces' rows as one shared table: a lone piece of whole columns is shared as it is
/// (a cycle whose bars added no row hands out the tables it had, without a copy).
fn shared_table(pieces: Vec<Piece>) -> Result<Arc<ResultTable>> {
    let pieces = with_rows(pieces);
    match pieces.as_slice() {
        [piece] if piece.first == 0 => Ok(Arc::clone(&piece.table)),
        _ => join(&pieces).map(Arc::new),
    }
}

/// The pieces that hold rows (the first one when none does: it has the columns).
fn with_rows(mut pieces: Vec<Piece>) -> Vec<Piece> {
    let empty = |p: &Piece| p.columns().iter().all(Column::is_empty);
    if pieces.iter().any(|p| !empty(p)) {
        pieces.retain(|p| !empty(p));
    } else {
        pieces.truncate(1);
    }
    pieces
}

/// The pieces' rows as one table.
fn join(pieces: &[Piece]) -> Result<ResultTable> {
    let parts: Vec<&[Column]> = pieces.iter().map(Piece::columns).collect();
    let meta = pieces
        .first()
        .map(|p| p.table.meta.clone())
        .unwrap_or_default();
    ResultTable::concat(&parts, meta, "native run state")
}

/// The rows of the entry under `key` and of the entries it links back to, oldest first;
/// `None` when one is missing or a link is not to an entry one link shorter (then the
/// tables are not known).
fn chain(stored: Stored<'_>, key: &Key) -> Option<Vec<Piece>> {
    let first = Entry::read(stored, key, true).filter(|e| e.rows_kept)?;
    let mut pieces = vec![first.rows()];
    let (mut link, mut depth) = (first.link, first.depth);
    while let Some(key) = link {
        let previous = Entry::read(stored, &key, true)?;
        if previous.depth + 1 != depth || !previous.rows_kept {
            return None;
        }
        pieces.push(previous.rows());
        (link, depth) = (previous.link, previous.depth);
    }
    pieces.reverse();
    Some(pieces)
}

impl<'a> Task<'a> {
    /// The native detector and stored series of a run that resumes (a native `spec` over a
    /// whole stored series, with a disk cache to keep its states in, in a pool that
    /// resumes).
    pub(super) fn resumable<'s>(&self, spec: &'s Spec) -> Option<Resuming<'s, 'a>> {
        match (spec, self.whole, self.cache, self.resume) {
            (Spec::Native(native), Some(reader), Some(cache), Some(index)) => Some(Resuming {
                native,
                reader,
                stored: Stored {
                    cache,
                    disk: cache.disk()?,
                },
                index,
            }),
            _ => None,
        }
    }

    /// The tables of a resumable run: from the memory tier when they are there (counted
    /// as a memory hit), else resumed and then kept there, as any result.
    pub(super) fn resumed_tables(
        &mut self,
        spec: &Spec,
        with: Resuming<'_, '_>,
    ) -> Result<Arc<ResultTable>> {
        let content = self.key(spec)?;
        let cache = with.stored.cache;
        if let Some(hit) = cache.peek(&content) {
            self.shared.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let table = self.timed(spec, || self.resumed(spec, with, Some(content)))?;
        cache.remember(content, Arc::clone(&table));
        Ok(table)
    }

    /// A resumable run whose tables are not wanted now (`keep=False`): its state and rows
    /// are stored, and that is all.
    pub(super) fn resumed_fill(&self, spec: &Spec, with: Resuming<'_, '_>) -> Result<()> {
        self.timed(spec, || self.resumed(spec, with, None))
            .map(|_| ())
    }

    /// The cache key of the run state of native `spec` after the first `rows` rows of the
    /// stored series: the detector and its parameters, and the identity of exactly those rows.
    fn state_key(&self, spec: &Spec, rows: usize, reader: &SeriesReader) -> Result<Key> {
        let known = self.prefixes.borrow().get(&rows).copied();
        let digest = match known {
            Some(d) => d,
            None => {
                let d = reader.prefix_digest(rows as u64)?;
                self.prefixes.borrow_mut().insert(rows, d);
                d
            }
        };
        let mut key = spec.key_builder()?;
        key.param("run_state", Param::Int(RUN_STATE_FORMAT))?;
        key.input_hashed("prefix@store-blocks", Dtype::U8, rows as u64, digest);
        Ok(key.key())
    }

    /// The key of the note of the rows of the newest state stored for this series and
    /// detector (by any process): where a new process looks first. Only a hint: the state
    /// itself is found by the identity of exactly those rows.
    fn pointer_key(&self, spec: &Spec) -> Result<Key> {
        let mut key = spec.key_builder()?;
        key.param("run_state_rows", Param::Int(RUN_STATE_FORMAT))?;
        key.param("symbol", Param::Str(self.req.symbol.clone()))?;
        key.param("timeframe", Param::Str(self.req.timeframe.clone()))?;
        Ok(key.key())
    }

    /// The rows the pointer of [`Task::pointer_key`] notes, if it reads as one.
    fn pointed_rows(&self, spec: &Spec, disk: &DiskTier) -> Result<Option<usize>> {
        let Lookup::Hit(table, _) = disk.get(&self.pointer_key(spec)?) else {
            return Ok(None);
        };
        Ok(table
            .column("rows")
            .filter(|c| c.dtype == Dtype::I64)
            .and_then(|c| c.clone().into_vec::<i64>().first().copied())
            .and_then(|r| usize::try_from(r).ok()))
    }

    /// Notes `rows` as the rows of the newest state stored for this series and detector.
    fn point_to(&self, spec: &Spec, cache: &AnalysisCache, rows: usize) -> Result<()> {
        let table = ResultTable::new(vec![Column::i64("rows", vec![rows as i64])]);
        cache.note_aside(&self.pointer_key(spec)?, "native-state-rows", &table);
        Ok(())
    }

    /// The newest stored state for a prefix of exactly these rows: the one this pool
    /// stored last, else one of all the rows, the one the series' pointer notes (the last
    /// any process stored) or one of all but the newest row.
    fn newest_state(
        &self,
        spec: &Spec,
        with: Resuming<'_, '_>,
        last: Option<LastState>,
    ) -> Result<Option<(usize, Link, Entry)>> {
        let n = self.c.len();
        let (dev, ino, _) = with.reader.version();
        let mut candidates: Vec<(usize, Option<Key>)> = last
            .filter(|l| l.rows <= n)
            .map(|l| (l.rows, (l.file == (dev, ino)).then_some(l.key)))
            .into_iter()
            .collect();
        let pointed = match last {
            Some(_) => None,
            None => self.pointed_rows(spec, with.stored.disk)?,
        };
        let more = [
            Some(n),
            pointed.filter(|&r| r <= n),
            Some(n.saturating_sub(1)),
        ];
        for rows in more.into_iter().flatten() {
            if rows > 0 && !candidates.iter().any(|(r, _)| *r == rows) {
                candidates.push((rows, None));
            }
        }
        for (rows, known) in candidates {
            let key = match known {
                Some(key) => key,
                None => self.state_key(spec, rows, with.reader)?,
            };
            if let Some(entry) = Entry::read(with.stored, &key, false) {
                let link = Link {
                    key,
                    depth: entry.depth,
                };
                return Ok(Some((rows, link, entry)));
            }
        }
        Ok(None)
    }

    /// Runs native `spec` from the newest stored state ([`Task::newest_state`]; from the
    /// first bar when there is none or it does not fit) and stores the new state with the
    /// rows the stepped bars made known, linked to the one it resumed from. With `content`
    /// (the key the caller keeps the tables under), returns the whole tables: the rows
    /// before the state (the tables this pool handed out for them, else the rows along the
    /// links) followed by the new rows; without, an empty table.
    fn resumed(
        &self,
        spec: &Spec,
        with: Resuming<'_, '_>,
        content: Option<Key>,
    ) -> Result<Arc<ResultTable>> {
        let Resuming {
            native,
            reader,
            stored,
            index,
        } = with;
        let n = self.c.len();
        let slot = (
            self.req.symbol.clone(),
            self.req.timeframe.clone(),
            spec.key_builder()?.key(),
        );
        let last = index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&slot)
            .copied();
        let (dev, ino, _) = reader.version();
        let mut found = self.newest_state(spec, with, last)?;
        // The rows before the state, when the tables are wanted.
        let mut before = Vec::new();
        if content.is_some() {
            if let Some((rows, link, _)) = &found {
                let handed = last
                    .filter(|l| l.rows == *rows && l.file == (dev, ino))
                    .and_then(|l| l.content)
                    .and_then(|c| stored.cache.recall(&c));
                match handed {
                    Some(table) => before.push(Piece { table, first: 0 }),
                    None => match chain(stored, &link.key) {
                        Some(pieces) => before = pieces,
                        None => found = None,
                    },
                }
            }
        }
        // Whether the entry resumed from keeps its rows (then so does the next one).
        let rows_before = found.as_ref().map(|(_, _, entry)| entry.rows_kept);
        self.check_once()?;
        let resume = |state: Option<&[u8]>| run_resumable(native, &self.c, state, None);
        let (run, mut link) = match found {
            Some((_, link, entry)) => match resume(Some(entry.state())) {
                Err(IctError::Corrupt { .. }) => {
                    before.clear();
                    (resume(None)?, None)
                }
                other => (other?, Some(link)),
            },
            None => (resume(None)?, None),
        };
        let resumed = link.is_some();
        let shared = self.shared;
        let counter = if resumed {
            &shared.resumed
        } else {
            &shared.recomputed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // A state of exactly these rows is this result, found; else it was computed.
        let hit = if resumed && run.stepped == 0 {
            &shared.disk_hits
        } else {
            &shared.misses
        };
        hit.fetch_add(1, Ordering::Relaxed);
        shared
            .rows_computed
            .fetch_add(run.stepped as u64, Ordering::Relaxed);
        // Whether `pieces` hold every row from the first bar (else the rows before the
        // state are along the links).
        let mut complete = content.is_some() || !resumed;
        let mut pieces = before;
        // Set when the rows before could not be read back for an entry that must hold them
        // all: nothing more is stored (an entry is never written with rows missing).
        let mut broken = false;
        // Whether storing the new state pays: stepping the bars since the stored state this
        // run started from (or the first bar) again against reading the state back. A run
        // that does not store hands out its rows, and the next one steps from the same
        // stored state, so the bars add up until storing pays. (The rows are stored with
        // the state: a new process assembles the tables from them.)
        let keep = stored
            .cache
            .worth_keeping(run.step_ns, run.state.len() as u64);
        // Whether the rows are stored with it: for a run from the first bar, whether they
        // would read back faster than they recompute (else a new process recomputes them
        // when it wants the tables, which costs no more); a resumed run keeps what the
        // entry it resumed from kept.
        let rows_kept = match (resumed, rows_before) {
            (true, Some(kept)) => kept,
            _ => {
                let bytes: usize = run.tables.iter().map(ResultTable::data_bytes).sum();
                keep && stored.cache.worth_keeping(run.step_ns, bytes as u64)
            }
        };
        let mut store = |rows: usize, state: &[u8], new_rows: ResultTable| -> Result<()> {
            if broken || !keep {
                pieces.push(Piece {
                    table: Arc::new(new_rows),
                    first: 0,
                });
                return Ok(());
            }
            let key = self.state_key(spec, rows, reader)?;
            if !rows_kept {
                stored.write(key, Entry::encode_state(state));
                pieces.push(Piece {
                    table: Arc::new(new_rows),
                    first: 0,
                });
                link = Some(Link { key, depth: 0 });
                return Ok(());
            }
            match link.filter(|l| l.depth < MAX_LINKS) {
                Some(previous) => {
                    let depth = previous.depth + 1;
                    let entry = Entry::encode(state, Some(previous.key), depth, new_rows);
                    pieces.push(stored.write(key, entry));
                    link = Some(Link { key, depth });
                }
                // No entry to link to, or a chain long enough: this entry holds every row.
                None => {
                    let mut all = match link {
                        Some(l) if !complete => match chain(stored, &l.key) {
                            Some(p) => p,
                            None => {
                                broken = true;
                                return Ok(());
                            }
                        },
                        _ => std::mem::take(&mut pieces),
                    };
                    all.push(Piece {
                        table: Arc::new(new_rows),
                        first: 0,
                    });
                    let entry = Entry::encode(state, None, 0, into_table(all)?);
                    pieces = vec![stored.write(key, entry)];
                    complete = true;
                    link = Some(Link { key, depth: 0 });
                }
            }
            Ok(())
        };
        let whole = |tables: Vec<ResultTable>| spec::native_table(native, tables);
        if run.stepped > 0 || !resumed {
            store(n, &run.state, whole(run.tables))?;
        }
        let stored_now = keep || (resumed && run.stepped == 0);
        if keep && !broken && (run.stepped > 0 || !resumed) {
            self.point_to(spec, stored.cache, n)?;
        }
        if let (Some(Link { key, .. }), false, true) = (link, broken, stored_now) {
            let last = LastState {
                rows: n,
                key,
                file: (dev, ino),
                content,
            };
            index
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(slot, last);
        }
        match content {
            Some(_) => shared_table(pieces),
            None => Ok(Arc::default()),
        }
    }
}
