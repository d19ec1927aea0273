//! `Store`: a directory of series files, one per (symbol, timeframe), with one writer per
//! series enforced by a lock file.
//!
//! Layout: `<root>/<symbol>/<timeframe>.ictc`, the symbol percent-encoded where it holds
//! characters that are unsafe in file names (so "EUR/USD" and "EURUSD" never collide), and
//! `<timeframe>.ictc.lock` beside each file while a writer works on it. Writers take an
//! exclusive lock on that file (`flock`, released by the kernel if the process dies) and
//! record their pid in it, so a second writer is refused with the holder's pid. Readers take
//! no lock.

use super::csv_import::{parse_csv, record_line, VolumeColumn};
use super::header::MAX_SYMBOL_BYTES;
use super::overlap::{self, Conflict, OnOverlap, Plan, Rows};
use super::series::{Damage, Durability, SeriesReader, SeriesWriter};
use super::source_zone::SourceZone;
use crate::candles::Candles;
use crate::error::{io_error, IctError, Result};
use crate::fork::PerProcess;
use crate::own_files;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// File name extension of series files.
pub const EXTENSION: &str = "ictc";

/// A directory of series files.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// The latest reader of each series read so far: later reads of an unchanged file reuse
    /// its mapping, so their views share memory. Per process: a forked child starts afresh
    /// (the parent's lock may be held by a thread that does not exist in the child).
    readers: Arc<PerProcess<Mutex<HashMap<PathBuf, SeriesReader>>>>,
    /// The version of each series at the last [`Store::refresh`] (per process, likewise).
    seen: Arc<PerProcess<Mutex<HashMap<PathBuf, Version>>>>,
}

/// What `Store::import_csv` does when the series is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Append the file's rows (they must come after the stored ones).
    Append,
    /// Replace the stored series.
    Replace,
    /// Refuse.
    Error,
}

/// How `Store::import_csv` reads a file and stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    pub volume: VolumeColumn,
    /// The zone of the file's naive times.
    pub zone: SourceZone,
    pub if_exists: IfExists,
    /// Rows at times the series already holds (with `IfExists::Append`).
    pub on_overlap: OnOverlap,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            volume: VolumeColumn::Auto,
            zone: SourceZone::Utc,
            if_exists: IfExists::Append,
            on_overlap: OnOverlap::default(),
        }
    }
}

/// The error for an imported row that differs from the stored row at its time: names the
/// file, its line, the time and both rows' values.
fn conflict_error(csv: &Path, conflict: &Conflict) -> IctError {
    let show = |v: &[f64; 5]| {
        format!(
            "open={} high={} low={} close={} volume={}",
            v[0], v[1], v[2], v[3], v[4]
        )
    };
    let time = super::csv_import::format_time(conflict.time);
    IctError::Parse {
        path: csv.to_path_buf(),
        line: record_line(csv, conflict.row).unwrap_or(0),
        message: format!(
            "the bar at {time} UTC differs from the stored one (stored {}; file {}); nothing \
             was changed: on_overlap=\"replace\" takes the file's bars over its time range",
            show(&conflict.stored),
            show(&conflict.incoming)
        ),
    }
}

/// What one CSV import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Rows in the file.
    pub rows: u64,
    /// Rows the series gained (fewer than `rows` when some were stored already).
    pub added: u64,
    /// The CSV column used as volume (None: zeros).
    pub volume_column: Option<String>,
}

/// (device, inode, commit sequence) of a series file: changes with every append or rewrite.
pub type Version = (u64, u64, u64);

/// What `Store::series` lists for one stored series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    pub symbol: String,
    pub timeframe: String,
    pub rows: u64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub path: PathBuf,
    /// Changes with every append or rewrite.
    pub version: Version,
}

/// Room for a new series: its rows plus a quarter (so a live feed's first appends do not
/// rewrite the file), at least 1024 rows.
fn initial_capacity(rows: usize) -> u64 {
    let rows = rows as u64;
    rows.saturating_add(rows / 4).max(1024)
}

/// Seconds of a timeframe name: a count and a unit `s`, `m`/`min`, `h`, `d` or `w`
/// ("15m", "1h", "4h", "1d"). Month names are refused (months have no fixed length).
pub fn timeframe_seconds(timeframe: &str) -> Result<u64> {
    let bad = || {
        IctError::parameter(
            "timeframe",
            format!(
                "'{timeframe}': expected a count and a unit s, m, min, h, d or w (\"15m\", \"4h\")"
            ),
        )
    };
    let digits = timeframe.bytes().take_while(u8::is_ascii_digit).count();
    let (count, unit) = timeframe.split_at(digits);
    let count: u64 = count.parse().map_err(|_| bad())?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" | "H" => 3_600,
        "d" | "D" => 86_400,
        "w" | "W" => 604_800,
        _ => return Err(bad()),
    };
    match count.checked_mul(unit_seconds) {
        Some(s) if s > 0 => Ok(s),
        _ => Err(bad()),
    }
}

/// A file-name-safe form of a symbol: ASCII letters, digits, '-', '_' and '.' stay, every
/// other byte becomes `%XX`. Reversible, so listing recovers the symbol. Symbols the file
/// header cannot hold are refused here, before anything is created for them.
fn encode_symbol(symbol: &str) -> Result<String> {
    if symbol.is_empty() || symbol == "." || symbol == ".." {
        return Err(IctError::parameter(
            "symbol",
            format!("'{symbol}' is not a usable symbol"),
        ));
    }
    if symbol.len() > MAX_SYMBOL_BYTES {
        return Err(IctError::parameter(
            "symbol",
            format!(
                "'{symbol}' is {} bytes of UTF-8; a stored symbol has at most {MAX_SYMBOL_BYTES}",
                symbol.len()
            ),
        ));
    }
    if symbol.contains('\0') {
        return Err(IctError::parameter(
            "symbol",
            "a symbol cannot hold a NUL character",
        ));
    }
    Ok(symbol
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect())
}

fn decode_symbol(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The store's marker file in its root, and its first line.
pub const STORE_MARKER: &str = ".ictcore-store";
const STORE_MARKER_TEXT: &[u8] = b"ictcore candle store\n";
/// The analysis cache's marker (`crate::cache`): a store never shares a root with a cache.
const CACHE_MARKER: &str = ".ictcore-cache";

/// Writes the store's marker into a root that has none (best effort when the directory
/// cannot be written: the store may still be read).
fn mark_root(root: &Path) -> Result<()> {
    let marker = root.join(STORE_MARKER);
    match own_files::create_new(&marker) {
        Ok(mut file) => file.write_all(STORE_MARKER_TEXT).map_err(io_error(&marker)),
        Err(_) => Ok(()), // there already, or a read-only store
    }
}

/// A series' file: its (checked) directory, its name there, and its path for messages.
#[derive(Debug)]
struct Located {
    dir: own_files::Dir,
    name: String,
    path: PathBuf,
}

/// Removes temp files a crashed writer of the series `name` left beside it in `dir` (the
/// caller holds the series' writer lock, so no writer of it is running): names ictcore gives
/// temp files of this series (now, and before temp names carried a pid), that are regular
/// files and start with the series magic or hold nothing yet. Anything else stays.
fn remove_stale_temps(dir: &own_files::Dir, name: &str) {
    let Ok(listing) = dir.names() else {
        return;
    };
    let stem = name.trim_end_matches(".ictc");
    let legacy = [format!("{stem}.ictc.write.tmp"), format!("{stem}.grow.tmp")];
    for file_name in listing {
        let ours = own_files::temp_pid(&file_name, name)
            .is_some_and(|pid| pid != std::process::id())
            || legacy.contains(&file_name);
        if !ours || !dir.is_plain_file(&file_name) {
            continue;
        }
        let mut head = [0u8; 8];
        let started = dir.open_read(&file_name).map(|mut f| f.read(&mut head));
        let proven = match started {
            Ok(Ok(0)) => true, // created, nothing written yet
            Ok(Ok(8)) => head == super::header::MAGIC || head == [0; 8],
            _ => false,
        };
        if proven && dir.remove(&file_name).is_ok() {
            log::info!(
                target: "ictcore.store",
                "removed {}, a temp file a crashed writer of {name} left",
                dir.join(&file_name).display()
            );
        }
    }
}

/// An exclusive writer lock on one series, released on drop (or by the kernel if the
/// process dies).
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    /// The process that took it: a forked child shares the lock's open file description, so
    /// unlocking there would release the parent's lock. Only the owner unlocks.
    pid: u32,
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        if self.pid == std::process::id() {
            let _ = self.file.unlock();
        }
    }
}

/// Whether a lock file's text is one ictcore writes: empty, or `pid <digits>`.
fn is_lock_text(text: &str) -> bool {
    text.is_empty()
        || text
            .strip_prefix("pid ")
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

impl WriterLock {
    fn acquire(at: &Located, symbol: &str, timeframe: &str) -> Result<Self> {
        let lock_name = format!("{}.lock", at.name);
        let lock_path = &at.dir.join(&lock_name);
        let io = |source| IctError::Io {
            path: lock_path.to_path_buf(),
            source,
        };
        // Not through a link, not a file with other names: the pid written below lands in
        // this lock file only.
        let file = at.dir.open_write(&lock_name, true).map_err(io)?;
        let mut text = String::new();
        let readable = (&file).take(64).read_to_string(&mut text).is_ok();
        if !readable || !is_lock_text(text.trim()) {
            return Err(io(std::io::Error::other(
                "is not an ictcore lock file (it holds other text); ictcore leaves it alone",
            )));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = text.trim();
                let who = if holder.is_empty() {
                    "another writer"
                } else {
                    holder
                };
                return Err(IctError::parameter(
                    "writer",
                    format!(
                        "{symbol} {timeframe} is being written by {who} (lock {})",
                        lock_path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.write_all_at(format!("pid {}", std::process::id()).as_bytes(), 0)
            .map_err(io)?;
        Ok(Self {
            file,
            pid: std::process::id(),
        })
    }
}

impl Store {
    /// Opens (and with `create`, makes) a store directory.
    pub fn open(root: &Path, create: bool) -> Result<Self> {
        if create {
            std::fs::create_dir_all(root).map_err(io_error(root))?;
        } else if !root.is_dir() {
            return Err(IctError::NotFound {
                path: root.to_path_buf(),
            });
        }
        if root.join(CACHE_MARKER).exists() {
            return Err(IctError::parameter(
                "root",
                format!(
                    "{} is an ictcore analysis cache directory; a store needs its own",
                    root.display()
                ),
            ));
        }
        if create {
            mark_root(root)?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            readers: Arc::new(PerProcess::new(Mutex::default)),
            seen: Arc::new(PerProcess::new(Mutex::default)),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a series file (whether or not it exists).
    pub fn series_path(&self, symbol: &str, timeframe: &str) -> Result<PathBuf> {
        timeframe_seconds(timeframe)?;
        Ok(self
            .root
            .join(encode_symbol(symbol)?)
            .join(format!("{timeframe}.{EXTENSION}")))
    }

    /// The directory of a symbol (not through a link; created when `create`) and the file
    /// name of its series.
    fn series_dir(&self, symbol: &str, timeframe: &str, create: bool) -> Result<Located> {
        timeframe_seconds(timeframe)?;
        let symbol_dir = encode_symbol(symbol)?;
        let name = format!("{timeframe}.{EXTENSION}");
        let path = self.root.join(&symbol_dir).join(&name);
        let root = own_files::Dir::open(&self.root).map_err(io_error(&self.root))?;
        let dir = root
            .sub(&symbol_dir, create)
            .map_err(|e| io_error(&self.root.join(&symbol_dir))(e))?;
        Ok(Located { dir, name, path })
    }

    fn lock(&self, symbol: &str, timeframe: &str) -> Result<(Located, WriterLock)> {
        super::fs_kind::check_local(&self.root, "store")?;
        // Every name is checked (by `series_dir`) before anything is created for it.
        let at = self.series_dir(symbol, timeframe, true)?;
        if at.dir.stat(&at.name).is_ok_and(|s| !s.is_file) {
            return Err(IctError::Io {
                path: at.path.clone(),
                source: std::io::Error::other(
                    "is not a regular file (a link or a directory); ictcore leaves it alone",
                ),
            });
        }
        let lock = WriterLock::acquire(&at, symbol, timeframe)?;
        remove_stale_temps(&at.dir, &at.name);
        Ok((at, lock))
    }

    /// Appends a batch to a series, creating it if needed. Atomic: all rows or none.
    pub fn append(
        &self,
        symbol: &str,
        timeframe: &str,
        candles: &Candles<'_>,
        durability: Durability,
    ) -> Result<()> {
        let (at, _lock) = self.lock(symbol, timeframe)?;
        self.append_locked(&at, symbol, timeframe, candles, durability)
    }

    /// [`Store::append`] to the series `at`, whose lock the caller holds.
    fn append_locked(
        &self,
        at: &Located,
        symbol: &str,
        timeframe: &str,
        candles: &Candles<'_>,
        durability: Durability,
    ) -> Result<()> {
        if at.dir.stat(&at.name).is_err() {
            // A new series appears whole (written aside, then renamed), so a crash while it
            // is being created cannot leave a file without a committed header.
            return self.replace_locked(at, symbol, timeframe, candles);
        }
        let mut writer =
            SeriesWriter::open_in(&at.dir, &at.name).map_err(|e| e.in_series(symbol, timeframe))?;
        writer
            .append(candles, durability)
            .map_err(|e| e.in_series(symbol, timeframe))
    }

    /// Writes a series anew (replacing any stored one): a new file, renamed over the old.
    pub fn write(&self, symbol: &str, timeframe: &str, candles: &Candles<'_>) -> Result<()> {
        let (at, _lock) = self.lock(symbol, timeframe)?;
        self.replace_locked(&at, symbol, timeframe, candles)
    }

    /// Writes `candles` as the whole series `at` (whose lock the caller holds): a new file,
    /// committed and synced, then renamed over the name.
    fn replace_locked(
        &self,
        at: &Located,
        symbol: &str,
        timeframe: &str,
        candles: &Candles<'_>,
    ) -> Result<()> {
        let tmp = own_files::temp_name(&at.name);
        let seconds = timeframe_seconds(timeframe)?;
        // Created exclusively: from here the temp file is this call's own, removed on failure.
        let mut writer = SeriesWriter::create_in(
            &at.dir,
            &tmp,
            symbol,
            seconds,
            initial_capacity(candles.len()),
        )
        .map_err(|e| e.in_series(symbol, timeframe))?;
        let result = (|| -> Result<()> {
            writer.append(candles, Durability::Full)?;
            at.dir.rename(&tmp, &at.name).map_err(io_error(&at.path))?;
            // The new name must survive a power loss too (S2): sync the directory entry.
            at.dir.sync().map_err(io_error(at.dir.path()))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = at.dir.remove(&tmp);
        }
        result.map_err(|e| e.in_series(symbol, timeframe))
    }

    /// Imports one CSV file into a series: the whole file is parsed and checked first, then
    /// stored in one atomic write or append, so a bad line stores nothing. Rows at times the
    /// series already holds are handled by `options.on_overlap` (see [`super::overlap`]).
    pub fn import_csv(
        &self,
        csv: &Path,
        symbol: &str,
        timeframe: &str,
        options: &ImportOptions,
    ) -> Result<Imported> {
        let parsed = parse_csv(csv, &options.volume, options.zone)?;
        let candles = Candles::new(
            &parsed.time,
            &parsed.open,
            &parsed.high,
            &parsed.low,
            &parsed.close,
            &parsed.volume,
        )?;
        super::spacing::check_spacing(&parsed.time, timeframe, &csv.display().to_string())?;
        let (at, _lock) = self.lock(symbol, timeframe)?;
        let exists = at.dir.stat(&at.name).is_ok();
        let imported = |added: usize| Imported {
            rows: candles.len() as u64,
            added: added as u64,
            volume_column: parsed.volume_column.clone(),
        };
        match (exists, options.if_exists) {
            (true, IfExists::Error) => Err(IctError::parameter(
                "if_exists",
                format!("{symbol} {timeframe} is already stored (use if_exists=\"append\" or \"replace\")"),
            )),
            (false, _) | (true, IfExists::Replace) => {
                self.replace_locked(&at, symbol, timeframe, &candles)?;
                Ok(imported(candles.len()))
            }
            (true, IfExists::Append) if options.on_overlap == OnOverlap::Error => {
                self.append_locked(&at, symbol, timeframe, &candles, Durability::Full)?;
                Ok(imported(candles.len()))
            }
            (true, IfExists::Append) => {
                let reader = SeriesReader::open_in(&at.dir, &at.name)
                    .and_then(|r| r.check_blocks().map(|()| r))
                    .map_err(|e| e.in_series(symbol, timeframe))?;
                let stored = Rows {
                    time: reader.time()?,
                    values: [
                        reader.values(1)?,
                        reader.values(2)?,
                        reader.values(3)?,
                        reader.values(4)?,
                        reader.values(5)?,
                    ],
                };
                let incoming = Rows {
                    time: &parsed.time,
                    values: [
                        &parsed.open,
                        &parsed.high,
                        &parsed.low,
                        &parsed.close,
                        &parsed.volume,
                    ],
                };
                let stored_rows = stored.time.len();
                match overlap::plan(&stored, &incoming, options.on_overlap) {
                    Err(conflict) => Err(conflict_error(csv, &conflict)),
                    Ok(Plan::Append { from }) => {
                        let rest = candles.tail(from);
                        if !rest.is_empty() {
                            self.append_locked(&at, symbol, timeframe, &rest, Durability::Full)?;
                        }
                        Ok(imported(rest.len()))
                    }
                    Ok(Plan::Rewrite(rows)) => {
                        let [o, h, l, c, v] = &rows.values;
                        let all = Candles::new(&rows.time, o, h, l, c, v)?;
                        drop(reader);
                        self.replace_locked(&at, symbol, timeframe, &all)?;
                        Ok(imported(rows.time.len().saturating_sub(stored_rows)))
                    }
                }
            }
        }
    }

    /// Maps a stored series read-only (no lock), reusing the mapping of an earlier read
    /// while the file is unchanged, and checks the rows it serves against their checksums
    /// (each block once per process, see [`SeriesReader::check_blocks`]): damaged data is an
    /// error naming the file, column and rows, never served.
    pub fn read(&self, symbol: &str, timeframe: &str) -> Result<SeriesReader> {
        let reader = self.read_unchecked(symbol, timeframe)?;
        reader
            .check_blocks()
            .map_err(|e| e.in_series(symbol, timeframe))?;
        Ok(reader)
    }

    /// [`Store::read`] without the block checks, for callers that run
    /// [`SeriesReader::check_blocks`] themselves later (the pool, on its worker threads).
    pub fn read_unchecked(&self, symbol: &str, timeframe: &str) -> Result<SeriesReader> {
        let at = self
            .series_dir(symbol, timeframe, false)
            .map_err(|e| e.in_series(symbol, timeframe))?;
        let path = at.path.clone();
        let known = self
            .readers
            .get()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&path)
            .cloned();
        let reader = match known {
            Some(reader) => reader.refreshed_in(&at.dir, &at.name),
            None => SeriesReader::open_in(&at.dir, &at.name),
        };
        let reader = match reader {
            Ok(reader) => reader,
            Err(e) => {
                // Read afresh next time (a file changed in place is reported once, then
                // served as it is now).
                self.readers
                    .get()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&path);
                return Err(e.in_series(symbol, timeframe));
            }
        };
        self.readers
            .get()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path, reader.clone());
        Ok(reader)
    }

    /// Maps many series at once, in request order, and asks the kernel to prefetch each; a
    /// missing or damaged series is an error in its own slot and does not stop the others.
    /// The first reads' block checks run on one thread per core (threads of this call, not
    /// a global pool, so a forked child never waits for threads it does not have).
    pub fn load_batch(&self, requests: &[(String, String)]) -> Vec<Result<SeriesReader>> {
        let one = |(symbol, timeframe): &(String, String)| {
            let reader = self.read_unchecked(symbol, timeframe)?;
            reader.prefetch();
            reader
                .check_blocks()
                .map_err(|e| e.in_series(symbol, timeframe))?;
            Ok(reader)
        };
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let chunk = requests
            .len()
            .div_ceil(cores.min(requests.len()).max(1))
            .max(1);
        if requests.len() < 2 || cores < 2 {
            return requests.iter().map(one).collect();
        }
        std::thread::scope(|scope| {
            let workers: Vec<_> = requests
                .chunks(chunk)
                .map(|part| {
                    let worker = scope.spawn(move || part.iter().map(one).collect::<Vec<_>>());
                    (part.len(), worker)
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|(len, w)| {
                    // One error per request of a thread that panicked: slots stay aligned.
                    w.join().unwrap_or_else(|_| {
                        (0..len)
                            .map(|_| {
                                Err(IctError::Internal {
                                    context: "CandleStore.load_batch".into(),
                                    message: "a loading thread panicked".into(),
                                })
                            })
                            .collect()
                    })
                })
                .collect()
        })
    }

    /// Every stored series, sorted by symbol then timeframe. A file whose header cannot be
    /// read is listed with an error instead of failing the listing.
    pub fn series(&self) -> Result<Vec<std::result::Result<SeriesInfo, IctError>>> {
        let mut out = Vec::new();
        let root = own_files::Dir::open(&self.root).map_err(io_error(&self.root))?;
        for dir_name in root.names().map_err(io_error(&self.root))? {
            let Some(symbol) = decode_symbol(&dir_name) else {
                continue;
            };
            // Symbol directories only: files, and links (never followed), are skipped.
            if !root.stat(&dir_name).is_ok_and(|s| s.is_dir) {
                continue;
            }
            let dir = root
                .sub(&dir_name, false)
                .map_err(io_error(&root.join(&dir_name)))?;
            for file in dir.names().map_err(io_error(dir.path()))? {
                let Some(timeframe) = file.strip_suffix(&format!(".{EXTENSION}")) else {
                    continue;
                };
                if timeframe.starts_with('.') {
                    continue; // a temp file's name
                }
                let timeframe = timeframe.to_string();
                let path = dir.join(&file);
                out.push(SeriesReader::open_in(&dir, &file).map(|r| {
                    let h = r.header();
                    let any = h.committed_rows > 0;
                    SeriesInfo {
                        symbol: symbol.clone(),
                        timeframe: timeframe.clone(),
                        rows: h.committed_rows,
                        first_ts: any.then_some(h.first_ts),
                        last_ts: any.then_some(h.last_ts),
                        path: path.clone(),
                        version: r.version(),
                    }
                }));
            }
        }
        out.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => (&a.symbol, &a.timeframe).cmp(&(&b.symbol, &b.timeframe)),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(a), Err(b)) => a.to_string().cmp(&b.to_string()),
        });
        Ok(out)
    }

    /// For readers that poll: re-reads every series header and returns the series that are
    /// new or changed (appended to, rewritten) since the previous refresh — all of them the
    /// first time — and those whose file cannot be read. Cached mappings of files that were
    /// removed or replaced are dropped (views handed out earlier stay valid).
    pub fn refresh(&self) -> Result<Vec<std::result::Result<SeriesInfo, IctError>>> {
        let listed = self.series()?;
        let now: HashMap<PathBuf, Version> = listed
            .iter()
            .flatten()
            .map(|s| (s.path.clone(), s.version))
            .collect();
        let mut seen = self
            .seen
            .get()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = listed
            .into_iter()
            .filter(|item| match item {
                Ok(s) => seen.get(&s.path) != Some(&s.version),
                Err(_) => true,
            })
            .collect();
        self.readers
            .get()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|path, reader| {
                let (dev, ino, _) = reader.version();
                now.get(path).is_some_and(|v| (v.0, v.1) == (dev, ino))
            });
        *seen = now;
        Ok(changed)
    }

    /// Verifies one series: the damaged regions (empty when it checks out), or the error
    /// that kept it from being opened.
    pub fn verify(&self, symbol: &str, timeframe: &str) -> Result<Vec<Damage>> {
        self.read(symbol, timeframe)?
            .verify()
            .map_err(|e| e.in_series(symbol, timeframe))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ictcore-store-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        d
    }

    #[test]
    fn timeframes_and_symbols() {
        assert_eq!(timeframe_seconds("15m").unwrap(), 900);
        assert_eq!(timeframe_seconds("4h").unwrap(), 14_400);
        assert_eq!(timeframe_seconds("1d").unwrap(), 86_400);
        for bad in ["", "m", "0m", "1M", "1y", "x1m"] {
            assert!(timeframe_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(encode_symbol("EUR/USD").unwrap(), "EUR%2FUSD");
        assert_eq!(decode_symbol("EUR%2FUSD").unwrap(), "EUR/USD");
        assert!(encode_symbol("..").is_err());
    }

    #[test]
    fn append_write_read_list_verify() {
        let root = root();
        let store = Store::open(&root, true).unwrap();
        let t: Vec<i64> = (0..10).map(|i| i * 60_000_000_000).collect();
        let p: Vec<f64> = (0..10).map(|i| 1.0 + f64::from(i)).collect();
        let c = Candles::new(&t[..5], &p[..5], &p[..5], &p[..5], &p[..5], &p[..5]).unwrap();
        store.append("EUR/USD", "1m", &c, Durability::Os).unwrap();
        let c2 = Candles::new(&t[5..], &p[5..], &p[5..], &p[5..], &p[5..], &p[5..]).unwrap();
        store
            .append("EUR/USD", "1m", &c2, Durability::Full)
            .unwrap();
        assert_eq!(store.read("EUR/USD", "1m").unwrap().time().unwrap(), &t[..]);
        store.write("BTC", "1h", &c).unwrap();
        store.write("BTC", "1h", &c2).unwrap(); // replaces
        assert_eq!(store.read("BTC", "1h").unwrap().time().unwrap(), &t[5..]);
        let listed: Vec<(String, String, u64)> = store
            .series()
            .unwrap()
            .into_iter()
            .map(|s| s.map(|s| (s.symbol, s.timeframe, s.rows)).unwrap())
            .collect();
        assert_eq!(
            listed,
            vec![
                ("BTC".into(), "1h".into(), 5),
                ("EUR/USD".into(), "1m".into(), 10)
            ]
        );
        assert!(store.verify("BTC", "1h").unwrap().is_empty());
        let err = store.read("ETH", "1m").unwrap_err();
        assert!(err.to_string().starts_with("ETH 1m: no such file"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid() {
        let root = root();
        let store = Store::open(&root, true).unwrap();
        let (_, held) = store.lock("EURUSD", "1m").unwrap();
        let err = store.lock("EURUSD", "1m").unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        assert!(store.lock("EURUSD", "1m").is_ok());
        std::fs::remove_dir_all(root).unwrap();
    }

    fn one_bar(i: i64) -> (Vec<i64>, Vec<f64>) {
        (vec![i * 60_000_000_000], vec![1.0])
    }

    /// T1/T2: lock, series and temp files are never followed through links, never written
    /// through hard links, and foreign files with ictcore-like names are left alone.
    #[test]
    fn links_and_foreign_files_are_left_alone() {
        let root = root();
        let store = Store::open(&root, true).unwrap();
        let outside = root.with_extension("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let target = outside.join("precious");
        std::fs::write(&target, b"precious").unwrap();
        let (t, p) = one_bar(1);
        let c = Candles::new(&t, &p, &p, &p, &p, &p).unwrap();
        let dir = root.join("EURUSD");
        std::fs::create_dir_all(&dir).unwrap();
        // A lock file that is a symbolic link, then one that is a hard link.
        std::os::unix::fs::symlink(&target, dir.join("1m.ictc.lock")).unwrap();
        let err = store
            .append("EURUSD", "1m", &c, Durability::Os)
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        std::fs::remove_file(dir.join("1m.ictc.lock")).unwrap();
        std::fs::hard_link(&target, dir.join("1m.ictc.lock")).unwrap();
        let err = store
            .append("EURUSD", "1m", &c, Durability::Os)
            .unwrap_err();
        assert!(err.to_string().contains("hard links"), "{err}");
        std::fs::remove_file(dir.join("1m.ictc.lock")).unwrap();
        // A lock file with someone else's text.
        std::fs::write(dir.join("1m.ictc.lock"), b"notes").unwrap();
        assert!(store.append("EURUSD", "1m", &c, Durability::Os).is_err());
        assert_eq!(std::fs::read(dir.join("1m.ictc.lock")).unwrap(), b"notes");
        std::fs::remove_file(dir.join("1m.ictc.lock")).unwrap();
        // A series file that is a link: neither written nor read through.
        std::os::unix::fs::symlink(&target, dir.join("1h.ictc")).unwrap();
        assert!(store.append("EURUSD", "1h", &c, Durability::Os).is_err());
        assert!(store.write("EURUSD", "1h", &c).is_err());
        assert!(store.read("EURUSD", "1h").is_err());
        // A symbol directory that is a link.
        std::os::unix::fs::symlink(&outside, root.join("GBPUSD")).unwrap();
        assert!(store.append("GBPUSD", "1m", &c, Durability::Os).is_err());
        // Foreign files named like the temp files of older builds survive writes; a stale
        // temp of a crashed writer (the series magic) is removed.
        std::fs::write(dir.join("5m.ictc.write.tmp"), b"user draft").unwrap();
        std::fs::write(
            dir.join("5m.grow.tmp"),
            b"\x89ICT\r\n\x1a\n rest of a crashed growth",
        )
        .unwrap();
        store.write("EURUSD", "5m", &c).unwrap();
        assert_eq!(
            std::fs::read(dir.join("5m.ictc.write.tmp")).unwrap(),
            b"user draft"
        );
        assert!(!dir.join("5m.grow.tmp").exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        let names: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert_eq!(names.len(), 1);
        std::fs::remove_dir_all(root).unwrap();
        std::fs::remove_dir_all(outside).unwrap();
    }

    /// A symbol the header cannot hold is refused before anything is created for it.
    #[test]
    fn a_long_symbol_is_refused_before_anything_is_created() {
        let root = root();
        let store = Store::open(&root, true).unwrap();
        let (t, p) = one_bar(1);
        let c = Candles::new(&t, &p, &p, &p, &p, &p).unwrap();
        let long = "X".repeat(65);
        let err = store.append(&long, "1m", &c, Durability::Os).unwrap_err();
        assert!(matches!(err, IctError::InvalidParameter { .. }), "{err}");
        assert!(err.to_string().contains("at most 64"), "{err}");
        assert!(!root.join(&long).exists());
        store
            .append(&"X".repeat(64), "1m", &c, Durability::Os)
            .unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    /// A store and a cache never share a root.
    #[test]
    fn a_cache_root_is_not_a_store() {
        let root = root();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join(CACHE_MARKER), b"ictcore analysis cache\n").unwrap();
        assert!(Store::open(&root, true).is_err());
        std::fs::remove_dir_all(root).unwrap();
    }

    fn series(n: usize, from: i64) -> (Vec<i64>, Vec<f64>) {
        let t = (0..n as i64).map(|i| (from + i) * 60_000_000_000).collect();
        let p = (0..n).map(|i| 1.0 + (i % 97) as f64 * 1e-3).collect();
        (t, p)
    }

    /// T4: a flipped bit in a sealed block or in the tail is never served: `read()` (and so
    /// the pool) raises naming the file, column and rows, the first time the process reads
    /// the block and every time after.
    #[test]
    fn damaged_blocks_are_refused_when_read() {
        use super::super::header::column_offsets;
        use std::os::unix::fs::FileExt;
        for (row, column, rows) in [
            (1234u64, 3usize, "rows 0..65536"),
            (65_600, 2, "rows 65536..66000"),
        ] {
            let root = root();
            let store = Store::open(&root, true).unwrap();
            let (t, p) = series(66_000, 0);
            let c = Candles::new(&t, &p, &p, &p, &p, &p).unwrap();
            store.write("EURUSD", "1m", &c).unwrap();
            assert!(store.read("EURUSD", "1m").is_ok());
            let path = store.series_path("EURUSD", "1m").unwrap();
            let capacity = SeriesReader::open(&path).unwrap().header().capacity_rows;
            let at = column_offsets(capacity).unwrap()[column] + row * 8;
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all_at(&[0x40], at).unwrap();
            // A fresh store (a new process): the damage is found on the first read.
            let fresh = Store::open(&root, false).unwrap();
            for _ in 0..2 {
                let err = fresh.read("EURUSD", "1m").unwrap_err();
                let text = err.to_string();
                assert!(matches!(err, IctError::InSeries { .. }), "{text}");
                assert!(
                    text.contains(COLUMNS_FOR_TEST[column]) && text.contains(rows),
                    "{text}"
                );
            }
            std::fs::remove_dir_all(root).unwrap();
        }
    }

    const COLUMNS_FOR_TEST: [&str; 6] = ["time", "open", "high", "low", "close", "volume"];

    /// T4: a file replaced in place behind an open store (same size, an older commit) is
    /// noticed: the store reports it instead of serving rows the file no longer commits, and
    /// reading again serves the file as it is.
    #[test]
    fn a_file_replaced_in_place_is_noticed() {
        let root = root();
        let store = Store::open(&root, true).unwrap();
        let (t, p) = series(100, 0);
        let c = Candles::new(&t[..50], &p[..50], &p[..50], &p[..50], &p[..50], &p[..50]).unwrap();
        store.append("EURUSD", "1m", &c, Durability::Full).unwrap();
        let path = store.series_path("EURUSD", "1m").unwrap();
        let old = std::fs::read(&path).unwrap();
        let c = Candles::new(&t[50..], &p[50..], &p[50..], &p[50..], &p[50..], &p[50..]).unwrap();
        store.append("EURUSD", "1m", &c, Durability::Full).unwrap();
        assert_eq!(
            store.read("EURUSD", "1m").unwrap().time().unwrap().len(),
            100
        );
        // Rewritten in place (same inode, same length), as `cp old 1m.ictc` would.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all(&old)
            .unwrap();
        let err = store.read("EURUSD", "1m").unwrap_err();
        assert!(err.to_string().contains("changed in place"), "{err}");
        assert_eq!(
            store.read("EURUSD", "1m").unwrap().time().unwrap().len(),
            50
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
