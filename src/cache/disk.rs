//! The disk tier: one self-validating file per entry under `<root>/<2 hex>/<32 hex>.ictc`, no
//! index to corrupt. Writes go to a temp file in the same directory and are renamed into place
//! (readers never see a partial entry; identical keys have identical content, so the last
//! rename winning is fine). Any entry that fails validation is renamed `<key>.corrupt` and
//! reported as corrupt, which the caller turns into a miss. A sweep, under a `try_lock` so
//! only one process sweeps at a time, removes temp files of dead writers, old quarantined
//! files and entries past the TTL, then deletes least recently used entries (by mtime, touched
//! on a hit at most once per [`TOUCH_INTERVAL`]) until the tier fits its byte budget.

use super::entry::{self, EntryMeta};
use super::key::Key;
use super::table::ResultTable;
use crate::error::{io_error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Extension of entry files.
const ENTRY: &str = "ictc";
/// Extension of quarantined entries.
const CORRUPT: &str = "corrupt";
/// Extension of temp files (`.<pid>-<n>.tmp`).
const TEMP: &str = "tmp";
/// A hit moves an entry's mtime forward at most this often (LRU order without a write per hit).
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(3600);
/// Temp files older than this are removed even if their writer's pid is alive (pid reuse).
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);
/// Quarantined entries are kept this long for inspection.
const CORRUPT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Hit(ResultTable, EntryMeta),
    Miss,
    /// The entry existed but could not be used (it was quarantined); the reason.
    Corrupt(String),
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// False when another process was sweeping (nothing was done).
    pub ran: bool,
    pub removed_entries: u64,
    pub removed_temp: u64,
    pub removed_corrupt: u64,
    /// Entry bytes left on disk.
    pub bytes: u64,
}

/// The disk tier of one cache directory.
#[derive(Debug)]
pub struct DiskTier {
    root: PathBuf,
    max_bytes: u64,
    max_age: Option<Duration>,
    sync: bool,
    /// Distinguishes this process's temp files.
    counter: AtomicU64,
}

impl DiskTier {
    /// Opens (creating) a cache directory; refuses network file systems like the store does
    /// (unless `ICTCORE_ALLOW_NETWORK_FS=1`).
    pub fn open(
        root: &Path,
        max_bytes: u64,
        max_age: Option<Duration>,
        sync: bool,
    ) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(io_error(root))?;
        crate::store::fs_kind::check_local(root, "cache")?;
        Ok(Self {
            root: root.to_path_buf(),
            max_bytes,
            max_age,
            sync,
            counter: AtomicU64::new(0),
        })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of an entry.
    pub fn entry_path(&self, key: &Key) -> PathBuf {
        let hex = key.to_string();
        self.root.join(&hex[..2]).join(format!("{hex}.{ENTRY}"))
    }

    /// Looks an entry up; a damaged one is quarantined and reported, never returned.
    pub fn get(&self, key: &Key) -> Lookup {
        let path = self.entry_path(key);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return self.quarantine(&path, format!("unreadable: {e}")),
        };
        match entry::decode(&bytes, key) {
            Ok((table, meta)) => {
                touch(&path);
                Lookup::Hit(table, meta)
            }
            Err(e) => self.quarantine(&path, e.0),
        }
    }

    /// Whether an entry file for `key` exists (touching it as a hit does). Not validated:
    /// for callers that only need to know a result is stored; reading it validates it.
    pub fn contains(&self, key: &Key) -> bool {
        let path = self.entry_path(key);
        let exists = path.is_file();
        if exists {
            touch(&path);
        }
        exists
    }

    fn quarantine(&self, path: &Path, reason: String) -> Lookup {
        // Rename rather than delete, so the damage can be inspected; if even that fails
        // (the file vanished, or another process quarantined it first), it is still a miss.
        let _ = std::fs::rename(path, path.with_extension(CORRUPT));
        Lookup::Corrupt(format!("{}: {reason}", path.display()))
    }

    /// Writes an entry (temp file + rename); returns (raw bytes, compressed bytes, file bytes).
    pub fn put(&self, key: &Key, table: &ResultTable, meta: &EntryMeta) -> Result<(u64, u64, u64)> {
        let encoded = entry::encode(key, table, meta);
        let path = self.entry_path(key);
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{}-{n}.{TEMP}", std::process::id()));
        let written = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(&encoded.bytes)?;
            if self.sync {
                file.sync_data()?;
            }
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_error(&path)(e));
        }
        Ok((
            encoded.raw_bytes,
            encoded.compressed_bytes,
            encoded.bytes.len() as u64,
        ))
    }

    /// Removes every entry (and temp and quarantined file) this tier holds.
    pub fn clear(&self) -> Result<u64> {
        let mut removed = 0;
        for (path, _, _) in self.files()? {
            if std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every file under the shard directories: (path, length, mtime).
    fn files(&self) -> Result<Vec<(PathBuf, u64, SystemTime)>> {
        let mut out = Vec::new();
        for shard in std::fs::read_dir(&self.root).map_err(io_error(&self.root))? {
            let Ok(shard) = shard else { continue };
            let shard = shard.path();
            let is_shard = shard
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_hexdigit()));
            if !is_shard || !shard.is_dir() {
                continue;
            }
            // Files can vanish while we list (other processes sweep and quarantine).
            let Ok(listing) = std::fs::read_dir(&shard) else {
                continue;
            };
            for file in listing.flatten() {
                if let Ok(m) = file.metadata() {
                    let mtime = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    out.push((file.path(), m.len(), mtime));
                }
            }
        }
        Ok(out)
    }

    /// Reads every entry back and validates it under the key its name gives; each one that
    /// fails is quarantined (as a lookup would) and listed with the reason.
    pub fn verify(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut bad = Vec::new();
        for (path, _, _) in self.files()? {
            if !has_extension(&path, ENTRY) {
                continue;
            }
            let key = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(Key::from_hex);
            let problem = match key {
                None => Some("the file name is not a key".to_string()),
                Some(key) => match self.get(&key) {
                    Lookup::Hit(..) | Lookup::Miss => None,
                    Lookup::Corrupt(reason) => Some(reason),
                },
            };
            if let Some(reason) = problem {
                bad.push((path, reason));
            }
        }
        Ok(bad)
    }

    /// Bytes of the entries on disk.
    pub fn bytes(&self) -> Result<u64> {
        Ok(self
            .files()?
            .iter()
            .filter(|(p, _, _)| has_extension(p, ENTRY))
            .map(|(_, len, _)| len)
            .sum())
    }

    /// Cleans up and enforces the byte budget (see the module documentation). Skipped, not
    /// waited for, when another process holds the sweep lock.
    pub fn sweep(&self) -> Result<Sweep> {
        let lock_path = self.root.join(".sweep.lock");
        let lock = File::create(&lock_path).map_err(io_error(&lock_path))?;
        if lock.try_lock().is_err() {
            return Ok(Sweep::default());
        }
        let now = SystemTime::now();
        let age = |mtime: SystemTime| now.duration_since(mtime).unwrap_or_default();
        let mut report = Sweep {
            ran: true,
            ..Sweep::default()
        };
        let mut entries = Vec::new();
        for (path, len, mtime) in self.files()? {
            if has_extension(&path, TEMP) {
                if age(mtime) > TEMP_MAX_AGE || !writer_alive(&path) {
                    report.removed_temp += u64::from(std::fs::remove_file(&path).is_ok());
                }
            } else if has_extension(&path, CORRUPT) {
                if age(mtime) > CORRUPT_MAX_AGE {
                    report.removed_corrupt += u64::from(std::fs::remove_file(&path).is_ok());
                }
            } else if has_extension(&path, ENTRY) {
                if self.max_age.is_some_and(|max| age(mtime) > max) {
                    report.removed_entries += u64::from(std::fs::remove_file(&path).is_ok());
                } else {
                    entries.push((mtime, len, path));
                }
            }
        }
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
                report.removed_entries += 1;
            }
        }
        report.bytes = total;
        Ok(report)
    }
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some(ext)
}

/// Moves an entry's mtime to now if it is older than [`TOUCH_INTERVAL`] (best effort).
fn touch(path: &Path) {
    let Ok(file) = File::options().write(true).open(path) else {
        return;
    };
    let stale = file
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|m| m.elapsed().unwrap_or_default() > TOUCH_INTERVAL);
    if stale {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Whether the process that named a temp file `.<pid>-<n>.tmp` still runs.
fn writer_alive(path: &Path) -> bool {
    let pid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix('.'))
        .and_then(|n| n.split('-').next())
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => true,
        Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}
