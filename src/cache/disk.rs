//! The disk tier: one self-validating file per entry under `<root>/<2 hex>/<32 hex>.ictc`, no
//! index to corrupt. Writes go to a temp file in the same directory and are published with
//! `link` + `unlink` (readers never see a partial entry; identical keys have identical
//! content, so whichever copy lands first stays). An entry that fails validation is renamed
//! `<key>.corrupt` and reported as corrupt, which the caller turns into a miss. A sweep, under
//! a `try_lock` so only one process sweeps at a time, removes temp files of dead writers, old
//! quarantined files and entries past the TTL, then deletes least recently used entries (by
//! mtime, touched on a hit at most once per [`TOUCH_INTERVAL`]) until the tier fits its byte
//! budget; a write that takes the tier past its budget runs one (T5).
//!
//! Only its own files (T1): the root carries a marker file ([`MARKER`]); a directory that
//! holds anything else is refused at open. Inside a root, a file is the cache's only under its
//! own name pattern (entries and quarantined entries `<32 hex>.<ext>` in the shard their
//! first two digits name, temp files `.ictc.<pid>-<n>.tmp`) and, before an entry or a
//! quarantined file is removed, with the entry magic (and an entry with its own key) in its
//! first bytes. Nothing is opened through a symbolic link or written through a hard link
//! (see [`crate::own_files`]).

use super::entry::{self, EntryMeta, MAGIC};
use super::key::Key;
use crate::error::{io_error, IctError, Result};
use crate::own_files::{self, Dir};
use crate::table::ResultTable;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Extension of entry files.
const ENTRY: &str = "ictc";
/// Extension of quarantined entries.
const CORRUPT: &str = "corrupt";
/// Stem of temp file names (`.ictc.<pid>-<n>.tmp`, see [`own_files::temp_name`]).
const TEMP_STEM: &str = "ictc";
/// The marker file that makes a directory a cache root, and its first line.
pub const MARKER: &str = ".ictcore-cache";
/// Stem of the marker's temp name while it is being written (`..ictcore-cache.<pid>-<n>.tmp`).
const MARKER_STEM: &str = ".ictcore-cache";
const MARKER_TEXT: &[u8] = b"ictcore analysis cache\n";
/// The store's marker (`crate::store`): a cache never shares a root with a store.
const STORE_MARKER: &str = ".ictcore-store";
/// The sweep's lock file in the root.
const SWEEP_LOCK: &str = ".sweep.lock";
/// A hit moves an entry's mtime forward at most this often (LRU order without a write per hit).
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(3600);
/// Temp files older than this are removed even if their writer's pid is alive (pid reuse).
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);
/// Quarantined entries are kept this long for inspection.
const CORRUPT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The largest entry file read or written (a guard before allocating for a file's bytes).
pub const MAX_ENTRY_BYTES: u64 = 1 << 34;
/// A sweep run because a write went over budget brings the tier down to this share of it,
/// so the writes after it do not each pay for a sweep.
const LOW_WATER: f64 = 0.9;

/// One of the cache's own files, recognised by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Own {
    Entry(Key),
    Corrupt(Key),
    /// A temp file and the pid of the process that made it.
    Temp(u32),
}

/// What a file in shard `shard` is, by its name alone (None: not the cache's).
fn classify(shard: &str, name: &str) -> Option<Own> {
    if let Some(pid) = own_files::temp_pid(name, TEMP_STEM) {
        return Some(Own::Temp(pid));
    }
    // Temp files of earlier builds: `.<pid>-<n>.tmp`.
    if let Some((pid, n)) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .and_then(|n| n.split_once('-'))
    {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if digits(pid) && digits(n) {
            return pid.parse().ok().map(Own::Temp);
        }
    }
    let (stem, ext) = name.split_once('.')?;
    let lower_hex = stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower_hex || !stem.starts_with(shard) {
        return None;
    }
    let key = Key::from_hex(stem)?;
    match ext {
        ENTRY => Some(Own::Entry(key)),
        CORRUPT => Some(Own::Corrupt(key)),
        _ => None,
    }
}

fn is_shard_name(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether the file `name` in `dir` starts like an entry (the magic) and, with `key`, holds
/// that key: the proof, besides its name, that the cache wrote it.
fn starts_as_entry(dir: &Dir, name: &str, key: Option<&Key>) -> bool {
    let Ok(mut file) = dir.open_read(name) else {
        return false;
    };
    let mut head = [0u8; 26];
    if file.read_exact(&mut head).is_err() || head[..8] != MAGIC {
        return false;
    }
    key.is_none_or(|k| head[10..26] == k.0)
}

/// Removes one of the cache's own files, after checking it is still what its name says
/// (a plain file; an entry or quarantined entry must also start as one). Returns whether it
/// was removed.
fn remove_own(dir: &Dir, name: &str, own: Own) -> bool {
    if !dir.is_plain_file(name) {
        return false;
    }
    let proven = match own {
        Own::Entry(key) => starts_as_entry(dir, name, Some(&key)),
        Own::Corrupt(_) => starts_as_entry(dir, name, None) || is_blank(dir, name),
        Own::Temp(_) => true,
    };
    proven && dir.remove(name).is_ok()
}

/// Whether a file holds nothing: empty or all zero bytes (what a power loss can leave of an
/// unsynced entry). Removing it loses no information.
fn is_blank(dir: &Dir, name: &str) -> bool {
    let Ok(file) = dir.open_read(name) else {
        return false;
    };
    let mut buf = [0u8; 1 << 16];
    let mut reader = file.take(MAX_ENTRY_BYTES);
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) if buf[..n].iter().all(|&b| b == 0) => {}
            _ => return false,
        }
    }
}

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
    /// The root, opened once: every file below it is reached by name from this handle.
    root: Dir,
    max_bytes: u64,
    max_age: Option<Duration>,
    sync: bool,
    /// Compress entries' columns (on by default; off stores them as they are).
    compress: bool,
    /// Entry bytes on disk as this process knows them: the last sweep's count plus what it
    /// wrote since. A write that takes it past `max_bytes` sweeps (T5).
    bytes_estimate: AtomicU64,
}

/// Makes `root` a cache root, or refuses it: a root with the marker is one; a new or empty
/// directory gets the marker; a directory that holds only the cache's own files (written by
/// a build from before the marker) is adopted; anything else is refused, naming a file that
/// is not the cache's, so the cache can never remove it.
fn claim_root(root: &Dir) -> Result<()> {
    let refuse = |why: String| {
        IctError::parameter(
            "path",
            format!(
                "{} is not an ictcore cache directory: {why}; give AnalysisCache a new or \
                 empty directory (it removes files, so it only works in one that is its own)",
                root.path().display()
            ),
        )
    };
    match root.open_read(MARKER) {
        Ok(mut file) => {
            let mut head = vec![0u8; MARKER_TEXT.len()];
            let ours = file.read_exact(&mut head).is_ok() && head == MARKER_TEXT;
            return if ours && root.is_plain_file(MARKER) {
                Ok(())
            } else {
                Err(refuse(format!("its {MARKER} file is not ictcore's")))
            };
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(refuse(format!("its {MARKER} cannot be read ({e})"))),
    }
    if let Some(foreign) = first_foreign(root)? {
        return Err(refuse(format!(
            "it holds {} (and has no {MARKER} marker)",
            foreign.display()
        )));
    }
    // Written aside and published whole, so another process opening the root at the same
    // moment never reads a marker half written.
    let tmp = own_files::temp_name(MARKER_STEM);
    let marker = root.join(MARKER);
    let written = root.create_new(&tmp).and_then(|mut file| {
        file.write_all(MARKER_TEXT)?;
        file.write_all(b"Files here are written and removed by ictcore.\n")?;
        drop(file);
        root.publish(&tmp, MARKER)
    });
    match written {
        Ok(true) => Ok(()),
        // Another process claimed it at the same moment: check what it wrote.
        Ok(false) => claim_root(root),
        Err(e) => {
            let _ = root.remove(&tmp);
            Err(io_error(&marker)(e))
        }
    }
}

/// The first file or directory under `root` that is not the cache's own (see [`claim_root`]).
fn first_foreign(root: &Dir) -> Result<Option<PathBuf>> {
    for name in root.names().map_err(io_error(root.path()))? {
        if name == STORE_MARKER {
            return Ok(Some(root.join(&name)));
        }
        let marker_in_progress = own_files::temp_pid(&name, MARKER_STEM).is_some();
        if (name == SWEEP_LOCK || marker_in_progress) && root.is_plain_file(&name) {
            continue;
        }
        let shard = match is_shard_name(&name).then(|| root.sub(&name, false)) {
            Some(Ok(shard)) => shard,
            _ => return Ok(Some(root.join(&name))),
        };
        for file in shard.names().map_err(io_error(shard.path()))? {
            let proven = match classify(&name, &file) {
                Some(Own::Entry(key)) => starts_as_entry(&shard, &file, Some(&key)),
                Some(Own::Corrupt(_)) => starts_as_entry(&shard, &file, None),
                Some(Own::Temp(_)) => shard.is_plain_file(&file),
                None => false,
            };
            if !proven {
                return Ok(Some(shard.join(&file)));
            }
        }
    }
    Ok(None)
}

/// One of the cache's files as a listing found it.
struct Listed {
    shard: Arc<Dir>,
    name: String,
    own: Own,
    len: u64,
    mtime: SystemTime,
}

impl Listed {
    fn path(&self) -> PathBuf {
        self.shard.join(&self.name)
    }

    fn remove(&self) -> bool {
        remove_own(&self.shard, &self.name, self.own)
    }
}

impl DiskTier {
    /// Opens (creating) a cache directory, which must be the cache's own (see
    /// [`claim_root`]); refuses network file systems like the store does (unless
    /// `ICTCORE_ALLOW_NETWORK_FS=1`).
    /// This tier with entries written compressed (`true`, the default) or as they are.
    pub fn with_compression(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    pub fn open(
        root: &Path,
        max_bytes: u64,
        max_age: Option<Duration>,
        sync: bool,
    ) -> Result<Self> {
        let dir = own_files::root_dir(root, true)?;
        crate::store::fs_kind::check_local(root, "cache")?;
        claim_root(&dir)?;
        Ok(Self {
            root: dir,
            max_bytes,
            max_age,
            sync,
            compress: true,
            bytes_estimate: AtomicU64::new(0),
        })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The shard directory and file name of an entry.
    fn entry_name(key: &Key) -> (String, String) {
        let hex = key.to_string();
        (hex[..2].to_string(), format!("{hex}.{ENTRY}"))
    }

    /// The file of an entry.
    pub fn entry_path(&self, key: &Key) -> PathBuf {
        let (shard, name) = Self::entry_name(key);
        self.root.join(&shard).join(name)
    }

    /// Looks an entry up; a damaged one is quarantined and reported, never returned.
    pub fn get(&self, key: &Key) -> Lookup {
        let (shard, name) = Self::entry_name(key);
        let path = self.entry_path(key);
        let dir = match self.root.sub(&shard, false) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Corrupt(format!("{}: {e}", path.display())),
        };
        let bytes = match read_entry_file(&dir, &name) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            // Not a file the cache can read as its own (a link, too large, unreadable): a
            // miss, reported, and left where it is.
            Err(e) => return Lookup::Corrupt(format!("{}: {e}", path.display())),
        };
        match entry::decode(&bytes, key) {
            Ok((table, meta)) => {
                touch(&dir, &name);
                Lookup::Hit(table, meta)
            }
            Err(e) => {
                quarantine(&dir, &name, key);
                log::warn!(
                    target: "ictcore.cache",
                    "damaged cache entry {}: {}; set aside, the result is recomputed",
                    path.display(),
                    e.0
                );
                Lookup::Corrupt(format!("{}: {}", path.display(), e.0))
            }
        }
    }

    /// Whether an entry file for `key` exists (touching it as a hit does). Not validated:
    /// for callers that only need to know a result is stored; reading it validates it.
    pub fn contains(&self, key: &Key) -> bool {
        let (shard, name) = Self::entry_name(key);
        let Ok(dir) = self.root.sub(&shard, false) else {
            return false;
        };
        let exists = dir.is_plain_file(&name);
        if exists {
            touch(&dir, &name);
        }
        exists
    }

    /// Writes an entry (temp file, then published without replacing anything); returns
    /// (raw bytes, compressed bytes, file bytes). Sweeps when the write takes the tier past
    /// its budget.
    pub fn put(&self, key: &Key, table: &ResultTable, meta: &EntryMeta) -> Result<(u64, u64, u64)> {
        self.put_as(key, table, meta, false)
    }

    /// [`DiskTier::put`] that replaces the entry of `key` if there is one (a note that
    /// changes, where `put` keeps the first: content-addressed entries never change). A file
    /// under the entry's name that is not an entry of `key` is left alone (an error).
    pub fn put_replacing(
        &self,
        key: &Key,
        table: &ResultTable,
        meta: &EntryMeta,
    ) -> Result<(u64, u64, u64)> {
        self.put_as(key, table, meta, true)
    }

    fn put_as(
        &self,
        key: &Key,
        table: &ResultTable,
        meta: &EntryMeta,
        replace: bool,
    ) -> Result<(u64, u64, u64)> {
        let encoded = entry::encode_with(key, table, meta, self.compress);
        let path = self.entry_path(key);
        if encoded.bytes.len() as u64 > MAX_ENTRY_BYTES {
            return Err(IctError::parameter(
                "result",
                format!(
                    "an entry of {} bytes is larger than the cache stores ({MAX_ENTRY_BYTES})",
                    encoded.bytes.len()
                ),
            ));
        }
        let (shard, name) = Self::entry_name(key);
        let dir = self
            .root
            .sub(&shard, true)
            .map_err(io_error(&self.root.join(&shard)))?;
        let tmp = own_files::temp_name(TEMP_STEM);
        let mut file = dir.create_new(&tmp).map_err(io_error(&dir.join(&tmp)))?;
        // From here the temp file is this process's own: it may be removed on failure.
        let written = (|| {
            file.write_all(&encoded.bytes)?;
            if self.sync {
                file.sync_data()?;
            }
            drop(file);
            if !replace {
                return dir.publish(&tmp, &name);
            }
            match read_entry_file(&dir, &name) {
                Ok(bytes) if entry::decode(&bytes, key).is_err() => {
                    return Err(std::io::Error::other(
                        "a file under this entry's name is not its entry: left alone",
                    ));
                }
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            dir.rename(&tmp, &name).map(|()| true)
        })();
        let published = match written {
            Ok(published) => published,
            Err(e) => {
                let _ = dir.remove(&tmp);
                return Err(io_error(&path)(e));
            }
        };
        let len = encoded.bytes.len() as u64;
        if published {
            let total = self.bytes_estimate.fetch_add(len, Ordering::Relaxed) + len;
            if total > self.max_bytes {
                self.sweep_to((self.max_bytes as f64 * LOW_WATER) as u64)?;
            }
        }
        Ok((encoded.raw_bytes, encoded.compressed_bytes, len))
    }

    /// Removes every entry (and temp file of a dead writer, and quarantined file) this tier
    /// holds; files that are not the cache's own stay.
    pub fn clear(&self) -> Result<u64> {
        let mut removed = 0;
        for f in self.files()? {
            let removable = match f.own {
                Own::Temp(pid) => !own_files::pid_alive(pid),
                Own::Entry(_) | Own::Corrupt(_) => true,
            };
            if removable && f.remove() {
                removed += 1;
            }
        }
        self.bytes_estimate.store(0, Ordering::Relaxed);
        Ok(removed)
    }

    /// Every file of the cache's own under the shard directories (by name; links and
    /// anything else are left out).
    fn files(&self) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        for name in self.root.names().map_err(io_error(self.root.path()))? {
            if !is_shard_name(&name) {
                continue;
            }
            // A link, or a shard removed while we list: not ours to look into.
            let Ok(shard) = self.root.sub(&name, false) else {
                continue;
            };
            let shard = Arc::new(shard);
            let Ok(listing) = shard.names() else {
                continue;
            };
            for file in listing {
                let Some(own) = classify(&name, &file) else {
                    continue;
                };
                // Files can vanish while we list (other processes sweep and quarantine).
                if let Ok(st) = shard.stat(&file).map(|st| (st.is_file, st)) {
                    if st.0 {
                        out.push(Listed {
                            shard: Arc::clone(&shard),
                            name: file,
                            own,
                            len: st.1.len,
                            mtime: st.1.modified,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Reads every entry back and validates it under the key its name gives; each one that
    /// fails is quarantined (as a lookup would) and listed with the reason.
    pub fn verify(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut bad = Vec::new();
        for f in self.files()? {
            if let Own::Entry(key) = f.own {
                if let Lookup::Corrupt(reason) = self.get(&key) {
                    bad.push((f.path(), reason));
                }
            }
        }
        Ok(bad)
    }

    /// Bytes of the entries on disk.
    pub fn bytes(&self) -> Result<u64> {
        Ok(self
            .files()?
            .iter()
            .filter(|f| matches!(f.own, Own::Entry(_)))
            .map(|f| f.len)
            .sum())
    }

    /// Cleans up and enforces the byte budget (see the module documentation). Skipped, not
    /// waited for, when another process holds the sweep lock.
    pub fn sweep(&self) -> Result<Sweep> {
        self.sweep_to(self.max_bytes)
    }

    /// [`DiskTier::sweep`] down to `target` bytes of entries.
    fn sweep_to(&self, target: u64) -> Result<Sweep> {
        let lock = self
            .root
            .open_write(SWEEP_LOCK, true)
            .map_err(io_error(&self.root.join(SWEEP_LOCK)))?;
        if lock.try_lock().is_err() {
            return Ok(Sweep::default());
        }
        let now = SystemTime::now();
        let age = |mtime: SystemTime| now.duration_since(mtime).unwrap_or_default();
        let mut report = Sweep {
            ran: true,
            ..Sweep::default()
        };
        // Markers a crashed process was writing when it claimed the root.
        for name in self.root.names().map_err(io_error(self.root.path()))? {
            let dead =
                own_files::temp_pid(&name, MARKER_STEM).is_some_and(|p| !own_files::pid_alive(p));
            if dead && self.root.is_plain_file(&name) && self.root.remove(&name).is_ok() {
                report.removed_temp += 1;
            }
        }
        let mut entries = Vec::new();
        for f in self.files()? {
            match f.own {
                Own::Temp(pid) => {
                    if age(f.mtime) > TEMP_MAX_AGE || !own_files::pid_alive(pid) {
                        report.removed_temp += u64::from(f.remove());
                    }
                }
                Own::Corrupt(_) => {
                    if age(f.mtime) > CORRUPT_MAX_AGE {
                        report.removed_corrupt += u64::from(f.remove());
                    }
                }
                Own::Entry(_) => {
                    if self.max_age.is_some_and(|max| age(f.mtime) > max) && f.remove() {
                        report.removed_entries += 1;
                    } else {
                        entries.push(f);
                    }
                }
            }
        }
        let mut total: u64 = entries.iter().map(|e| e.len).sum();
        entries.sort_by(|a, b| (a.mtime, &a.name).cmp(&(b.mtime, &b.name)));
        for f in entries {
            if total <= target {
                break;
            }
            if f.remove() {
                total -= f.len;
                report.removed_entries += 1;
            }
        }
        report.bytes = total;
        self.bytes_estimate.store(total, Ordering::Relaxed);
        Ok(report)
    }
}

/// Moves a damaged file at an entry's name aside as `<key>.corrupt` (renamed, not deleted,
/// so the damage can be inspected; the sweep deletes it later only if it is provably the
/// cache's). An older quarantined copy is replaced only if it is provably the cache's too;
/// otherwise, or if the rename fails (another process quarantined it first), the file stays
/// and the lookup is still a miss.
fn quarantine(dir: &Dir, name: &str, key: &Key) {
    let aside = format!("{key}.{CORRUPT}");
    let free = dir.stat(&aside).is_err() || remove_own(dir, &aside, Own::Corrupt(*key));
    if free && dir.is_plain_file(name) {
        let _ = dir.rename(name, &aside);
    }
}

/// The bytes of an entry file, refusing links and files too large to be an entry before
/// anything is allocated for them.
fn read_entry_file(dir: &Dir, name: &str) -> std::io::Result<Vec<u8>> {
    let file = dir.open_read(name)?;
    let len = file.metadata()?.len();
    if len > MAX_ENTRY_BYTES {
        return Err(std::io::Error::other(format!(
            "{len} bytes is larger than any entry ({MAX_ENTRY_BYTES})"
        )));
    }
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(len as usize)
        .map_err(|e| std::io::Error::other(format!("cannot allocate {len} bytes: {e}")))?;
    // At most `len` bytes: a file growing under us cannot make the read allocate more.
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Moves an entry's mtime to now if it is older than [`TOUCH_INTERVAL`] (best effort; never
/// through a link).
fn touch(dir: &Dir, name: &str) {
    let Ok(file) = dir.open_write(name, false) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_strictly() {
        let key = "ab".to_string() + &"0".repeat(30);
        assert!(matches!(
            classify("ab", &format!("{key}.ictc")),
            Some(Own::Entry(_))
        ));
        assert!(matches!(
            classify("ab", &format!("{key}.corrupt")),
            Some(Own::Corrupt(_))
        ));
        assert_eq!(classify("ab", ".ictc.12-3.tmp"), Some(Own::Temp(12)));
        assert_eq!(classify("ab", ".12-3.tmp"), Some(Own::Temp(12)));
        for foreign in [
            "draft.tmp",
            "users.sqlite",
            "1h.ictc",
            &format!("{key}.ictc.bak"),
            &format!("{}.ictc", key.to_uppercase()),
            &format!("cd{}.ictc", &key[2..]),
            ".ictc.12.tmp",
        ] {
            assert_eq!(classify("ab", foreign), None, "{foreign}");
        }
        assert!(is_shard_name("0f") && !is_shard_name("AA") && !is_shard_name("abc"));
    }
}
