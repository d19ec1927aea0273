//! A live series' saved state: what a new session needs to go on where a previous one
//! stopped, in the checkpoint frame of [`crate::detect::checkpoint`] (magic, format,
//! detector revision, length, checksum), one file per series in a state directory.
//!
//! A state changes with every save, so it is not a cache entry (those are named by their
//! content and never replaced). Its file is named by a hash of the store, the series and
//! the detectors with their parameters; what makes the state valid for the series as it is
//! now is inside it: the identity of the rows it was made on
//! ([`crate::store::SeriesReader::prefix_digest`]) and their last bar, both compared with
//! the stored series before the state is used. A state that fails any check is not used and
//! the series is computed from its first bar.
//!
//! A save writes a temp file and renames it over the previous state, so a process killed
//! while saving leaves the previous state whole. An existing file is replaced only when it
//! is a state (it begins with the state magic); the directory's other files are never
//! touched.

use super::{Anchor, Series};
use crate::cache::key::KeyBuilder;
use crate::detect::checkpoint::{corrupt, frame, unframe};
use crate::detect::history::ATR_TAIL;
use crate::detect::NativeSpec;
use crate::error::{io_error, IctError, Result};
use crate::own_files::Dir;
use crate::param::Param;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;

const LIVE: &[u8; 8] = b"ICTLIVE\0";

#[derive(Serialize, Deserialize)]
pub struct Payload {
    symbol: String,
    timeframe: String,
    /// Each detector: name and every parameter, resolved.
    specs: Vec<(String, Vec<(String, Param)>)>,
    stepped: u64,
    /// Identity of the first `stepped` rows of the series.
    digest: [u8; 16],
    last: Option<(i64, [u64; 5])>,
    atr: Vec<f64>,
    reported: Vec<Vec<u64>>,
    nodes: Vec<Vec<u8>>,
}

fn described(specs: &[NativeSpec]) -> Vec<(String, Vec<(String, Param)>)> {
    specs.iter().map(NativeSpec::described).collect()
}

/// The file name of a series' live state: a hash of the store's directory, the series and
/// the detectors (each one's own cache key, which covers its parameters and revision).
fn file_name(store: &Store, specs: &[NativeSpec], symbol: &str, timeframe: &str) -> Result<String> {
    let detectors = specs
        .iter()
        .map(|s| {
            crate::pool::spec::Spec::Native(s.clone())
                .key_builder()
                .map(|k| k.key().to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let mut k = KeyBuilder::new("live", "state");
    k.param("store", Param::Str(store.root().display().to_string()))?;
    k.param("symbol", Param::Str(symbol.to_string()))?;
    k.param("timeframe", Param::Str(timeframe.to_string()))?;
    k.param("detectors", Param::Str(detectors.join(",")))?;
    Ok(format!("live-{}.state", k.key()))
}

/// Saved states larger than this are refused before anything is allocated (a W1 1-minute
/// series' state is tens of MB).
const MAX_STATE_BYTES: u64 = 1 << 34;
const TEMP_STEM: &str = "live-state";

/// A directory of live states (created if missing).
pub struct StateDir {
    dir: Dir,
}

impl StateDir {
    /// The directory at `path` (created if missing), after removing the temp files that
    /// saves killed part-way left there (see [`StateDir::remove_dead_temps`]).
    pub fn open(path: &Path) -> Result<Self> {
        let dir = Self {
            dir: crate::own_files::root_dir(path, true)?,
        };
        dir.remove_dead_temps();
        Ok(dir)
    }

    /// Removes temp files of saves whose process is gone: named as this module names them,
    /// plain files, and empty or beginning with the state magic (so a file someone else put
    /// there under such a name stays). A live process's temp files are left alone: several
    /// sessions may share a directory.
    fn remove_dead_temps(&self) {
        let Ok(names) = self.dir.names() else {
            return;
        };
        for name in names {
            let Some(pid) = crate::own_files::temp_pid(&name, TEMP_STEM) else {
                continue;
            };
            if pid == std::process::id()
                || crate::own_files::pid_alive(pid)
                || !self.dir.is_plain_file(&name)
            {
                continue;
            }
            let mut head = [0u8; 8];
            let read = self
                .dir
                .open_read(&name)
                .and_then(|mut f| f.read(&mut head));
            let proven = match read {
                Ok(0) => true,
                Ok(8) => &head == LIVE,
                _ => false,
            };
            if proven {
                let _ = self.dir.remove(&name);
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The bytes of state `name`, if there is one (a file too large to be a state, or one
    /// that is not a plain file, is none).
    fn read(&self, name: &str) -> Option<Vec<u8>> {
        if !self.dir.is_plain_file(name) {
            return None;
        }
        let mut file = self.dir.open_read(name).ok()?;
        let len = file.metadata().ok()?.len();
        if len > MAX_STATE_BYTES {
            return None;
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// Replaces state `name` with `bytes` (see the module documentation).
    fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        if self.dir.stat(name).is_ok() {
            let ours = self.dir.is_plain_file(name)
                && self.dir.open_read(name).ok().and_then(|mut f| {
                    let mut magic = [0u8; 8];
                    f.read_exact(&mut magic).ok().map(|_| &magic == LIVE)
                }) == Some(true);
            if !ours {
                return Err(IctError::parameter(
                    "state_dir",
                    format!(
                        "{} exists and is not a live state ictcore wrote; it is left as it is",
                        path.display()
                    ),
                ));
            }
        }
        let tmp = crate::own_files::temp_name(TEMP_STEM);
        let mut file = self.dir.create_new(&tmp).map_err(io_error(&path))?;
        // From here the temp file is this process's own: it may be removed on failure.
        let written = (|| {
            file.write_all(bytes)?;
            file.sync_data()?;
            drop(file);
            self.dir.rename(&tmp, name)
        })();
        written.map_err(|e| {
            let _ = self.dir.remove(&tmp);
            io_error(&path)(e)
        })
    }
}

/// Saves `s`'s state in `dir`; its size, or None for a series never stepped.
pub(super) fn save(
    s: &Series,
    store: &Store,
    dir: &StateDir,
    specs: &[NativeSpec],
) -> Result<Option<u64>> {
    let Anchor::Reader(reader) = &s.anchor else {
        return Ok(None);
    };
    let payload = Payload {
        symbol: s.symbol.clone(),
        timeframe: s.timeframe.clone(),
        specs: described(specs),
        stepped: s.stepped as u64,
        digest: reader.prefix_digest(s.stepped as u64)?,
        last: s.last,
        atr: s.atr.clone(),
        reported: s
            .reported
            .iter()
            .map(|t| t.iter().map(|&r| r as u64).collect())
            .collect(),
        nodes: s.graph.states()?,
    };
    let bytes = frame(LIVE, &payload)?;
    dir.write(&file_name(store, specs, &s.symbol, &s.timeframe)?, &bytes)?;
    Ok(Some(bytes.len() as u64))
}

/// The saved state of a series, if `dir` holds one that decodes.
pub(super) fn load(
    dir: &StateDir,
    store: &Store,
    specs: &[NativeSpec],
    symbol: &str,
    timeframe: &str,
) -> Option<Payload> {
    let bytes = dir.read(&file_name(store, specs, symbol, timeframe).ok()?)?;
    decode(&bytes).ok()
}

/// A saved state from its bytes (checked frame; refused as corrupt otherwise).
pub fn decode(bytes: &[u8]) -> Result<Payload> {
    unframe(LIVE, bytes)
}

/// Gives `s` a decoded state after checking that it is one of this series and these
/// detectors and that its parts agree (the stored rows are checked on the first poll).
pub(super) fn apply(s: &mut Series, p: Payload, specs: &[NativeSpec]) -> Result<()> {
    if p.symbol != s.symbol || p.timeframe != s.timeframe || p.specs != described(specs) {
        return Err(corrupt("the state of another series or other detectors"));
    }
    let stepped = usize::try_from(p.stepped).map_err(|_| corrupt("its row count"))?;
    let tails_fit = p.atr.len() == stepped.min(ATR_TAIL);
    let counts_fit = p.reported.len() == s.reported.len()
        && p.reported
            .iter()
            .zip(&s.reported)
            .all(|(a, b)| a.len() == b.len());
    if !tails_fit || !counts_fit || p.last.is_none() != (stepped == 0) {
        return Err(corrupt("its parts do not agree"));
    }
    s.graph.load(&p.nodes)?;
    // Reported counts beyond a table's rows would report nothing for ever: refuse them.
    for ((spec, &id), counts) in specs.iter().zip(&s.ids).zip(&p.reported) {
        let node = s
            .graph
            .node(id)
            .ok_or_else(|| corrupt("a detector is missing"))?;
        for (which, &count) in (0..spec.tables().count()).zip(counts) {
            if count > node.rows(which) as u64 {
                return Err(corrupt("it reports more rows than its tables hold"));
            }
        }
    }
    s.stepped = stepped;
    s.last = p.last;
    s.atr = p.atr;
    s.reported = p
        .reported
        .iter()
        .map(|t| t.iter().map(|&r| r as usize).collect())
        .collect();
    s.anchor = Anchor::Digest(p.digest);
    s.restored = true;
    Ok(())
}
