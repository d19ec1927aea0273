//! The analysis cache (`storage-and-cache.md` §1.2, §2.5-2.7): a `moka` memory tier over an
//! optional compressed disk tier, keyed by a content hash of everything that decides a result,
//! so a stale entry cannot be found and a damaged one is never returned (it is a counted miss
//! and the result is recomputed).
//!
//! - [`key`]: the canonical key record and its xxh3-128.
//! - [`table`]: the cached value, named typed columns.
//! - [`codec`], [`entry`]: per-column lz4 (raw or delta/zigzag/shuffle) and the
//!   self-validating entry file.
//! - [`disk`]: entry files, quarantine and the sweep.

pub mod codec;
pub mod disk;
pub mod entry;
pub mod key;

pub use disk::{DiskTier, Lookup, Sweep};

/// Format of the entries written and read ([`entry`]); part of every key ([`key`]), so a
/// format change is a miss, never a misread. Here so neither module imports the other for
/// it. 3: table metadata (a session table's window names) after the columns.
pub const ENTRY_FORMAT: u16 = 3;
use crate::table::ResultTable;
pub use key::{input_hash, Key, KeyBuilder};

use crate::error::{now_ns, IctError, Result};
use crate::fork::PerProcess;
use entry::EntryMeta;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes the memory tier counts per entry on top of its column data (moka's bookkeeping, the
/// `Arc` and column headers), so many tiny entries cannot exceed the budget (moka #72).
pub const ENTRY_OVERHEAD: u64 = 512;
/// The longest TTL accepted (moka refuses more than 1,000 years; nobody needs more than 100).
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Which entries the memory tier drops first when full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Least recently used.
    Lru,
    /// TinyLFU admission (a new entry must be more frequent than the one it would evict)
    /// with LRU eviction: resists scans, but rejects first-time keys when full.
    TinyLfu,
}

/// Cache settings.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub max_memory_bytes: u64,
    pub max_disk_bytes: u64,
    /// Entries older than this are dropped (memory: since insert; disk: since last use).
    pub ttl: Option<Duration>,
    pub eviction: Eviction,
    /// fdatasync each entry file (off by default: the cache can always be rebuilt).
    pub sync_writes: bool,
    /// Which computed results go to the disk tier.
    pub disk_writes: DiskWrites,
    /// Compress disk entries (lz4 with filters; on by default). Off writes and reads them
    /// faster and takes more disk (the engine config's `compression_enabled`).
    pub compression: bool,
}

/// Which computed results a cache writes to its disk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiskWrites {
    /// Only results that cost more to compute than to read back ([`pays_to_keep`]): dense
    /// frames that a detector computes faster than the disk tier decodes them would make
    /// every cold scan pay for writes that no later read repays.
    #[default]
    Paying,
    /// Every computed result.
    All,
}

/// Reading an entry back costs about this much whatever its size (open, header, checksum,
/// allocation), in ns...
const READ_FIXED_NS: u64 = 50_000;
/// ...plus this much per raw column byte, in ns per 1,000 bytes. Measured on W1 (2 cores,
/// `keep=True`): a warm run reads native tables back at about 2.4 ns per raw byte per core,
/// and compat frames slower (decoded, then compacted to be held); compat detectors compute
/// their dense frames at about 1 ns per byte, native ones their tables at about 7
/// (BENCHMARKS.md, "Analysis cache: what pays").
const READ_NS_PER_KB: u64 = 3_000;

/// Whether keeping a result of `raw_bytes` column bytes that took `compute_ns` to compute
/// saves time when it is read back instead of recomputed.
pub fn pays_to_keep(compute_ns: u64, raw_bytes: u64) -> bool {
    let read_ns = READ_FIXED_NS.saturating_add(raw_bytes.saturating_mul(READ_NS_PER_KB) / 1_000);
    compute_ns > read_ns
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_memory_bytes: 512 << 20,
            max_disk_bytes: 4 << 30,
            ttl: None,
            // Measured (BENCHMARKS.md, replay of repeated W1 scans): TinyLFU keeps 68-79% hits
            // where LRU keeps 60% at 10-30% budgets, and is 2-4 points behind at 60%.
            eviction: Eviction::TinyLfu,
            sync_writes: false,
            disk_writes: DiskWrites::Paying,
            compression: true,
        }
    }
}

/// Where a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Memory,
    Disk,
    Computed,
}

/// Counters; see [`AnalysisCache::stats`].
#[derive(Debug, Default)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
    evictions: AtomicU64,
    disk_writes: AtomicU64,
    disk_write_errors: AtomicU64,
    raw_bytes_written: AtomicU64,
    compressed_bytes_written: AtomicU64,
    compute_ns: AtomicU64,
    skipped_writes: AtomicU64,
}

/// A snapshot of the cache's statistics. Hits and misses count [`AnalysisCache::get_or_compute`]
/// calls: each is exactly one of a memory hit (including a call that waited for another
/// thread computing the same key), a disk hit or a miss (computed). `corrupt` counts disk
/// entries that failed validation (each also became a disk miss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub memory_hits: u64,
    pub disk_hits: u64,
    pub misses: u64,
    pub corrupt: u64,
    /// Entries the memory tier dropped for room or age.
    pub evictions: u64,
    pub entries: u64,
    pub bytes_in_memory: u64,
    pub bytes_on_disk: u64,
    pub disk_writes: u64,
    pub disk_write_errors: u64,
    /// Column bytes written to disk before and after compression (by this process).
    pub raw_bytes_written: u64,
    pub compressed_bytes_written: u64,
    /// Time spent computing misses, in ns.
    pub compute_ns: u64,
    /// Computed results not written to disk: recomputing them costs less than reading them
    /// back ([`DiskWrites::Paying`]).
    pub skipped_writes: u64,
}

impl Stats {
    /// Raw over compressed bytes of what this process wrote (0 when nothing was written).
    pub fn compression_ratio(&self) -> f64 {
        if self.compressed_bytes_written == 0 {
            0.0
        } else {
            self.raw_bytes_written as f64 / self.compressed_bytes_written as f64
        }
    }
}

/// The two-tier cache. Cheap to clone (shared state); thread-safe; several processes may
/// share one directory.
#[derive(Clone)]
pub struct AnalysisCache {
    /// The memory tier of this process: a forked child starts with an empty one (moka's
    /// internal locks may be held by threads of the parent that do not exist in the child).
    memory: Arc<PerProcess<MemoryTier>>,
    disk: Option<Arc<DiskTier>>,
    counters: Arc<Counters>,
    config: CacheConfig,
}

type MemoryTier = moka::sync::Cache<Key, Arc<ResultTable>>;

thread_local! {
    /// The (cache, key) pairs this thread is computing right now, innermost last: a compute
    /// function that asks its own cache for its own key would wait for itself forever.
    static COMPUTING: std::cell::RefCell<Vec<(usize, Key)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks (cache, key) as being computed on this thread until dropped.
struct Computing(usize, Key);

impl Computing {
    /// Refuses a key this thread is already computing for this cache.
    fn enter(cache: usize, key: Key, detector: &str) -> Result<Self> {
        let again = COMPUTING.with(|c| c.borrow().contains(&(cache, key)));
        if again {
            return Err(IctError::Reentrant {
                detector: detector.to_string(),
                key: key.to_string(),
            });
        }
        COMPUTING.with(|c| c.borrow_mut().push((cache, key)));
        Ok(Self(cache, key))
    }
}

impl Drop for Computing {
    fn drop(&mut self) {
        COMPUTING.with(|c| {
            let mut stack = c.borrow_mut();
            if let Some(at) = stack.iter().rposition(|e| *e == (self.0, self.1)) {
                stack.remove(at);
            }
        });
    }
}

/// Builds an empty memory tier for `config`, counting evictions in `counters`.
fn memory_tier(config: &CacheConfig, counters: &Arc<Counters>) -> MemoryTier {
    let evicted = Arc::clone(counters);
    let mut builder = moka::sync::Cache::builder()
        .max_capacity(config.max_memory_bytes)
        .weigher(|_key: &Key, value: &Arc<ResultTable>| {
            u32::try_from(value.data_bytes() as u64 + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
        })
        .eviction_policy(match config.eviction {
            Eviction::Lru => EvictionPolicy::lru(),
            Eviction::TinyLfu => EvictionPolicy::tiny_lfu(),
        })
        .eviction_listener(move |_key, _value, cause| {
            if matches!(cause, RemovalCause::Size | RemovalCause::Expired) {
                evicted.evictions.fetch_add(1, Ordering::Relaxed);
            }
        });
    if let Some(ttl) = config.ttl {
        builder = builder.time_to_live(ttl);
    }
    builder.build()
}

impl std::fmt::Debug for AnalysisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalysisCache")
            .field("path", &self.disk.as_ref().map(|d| d.root().to_path_buf()))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AnalysisCache {
    /// A cache in memory only (`path` None) or over a directory, which is created if needed
    /// and swept once (removing temp files of crashed writers).
    pub fn open(path: Option<&Path>, config: CacheConfig) -> Result<Self> {
        if config.ttl.is_some_and(|t| t > MAX_TTL || t.is_zero()) {
            return Err(IctError::parameter(
                "ttl_seconds",
                "must be positive and at most 100 years",
            ));
        }
        let counters = Arc::new(Counters::default());
        let memory = {
            let (config, counters) = (config.clone(), Arc::clone(&counters));
            Arc::new(PerProcess::new(move || memory_tier(&config, &counters)))
        };
        let disk = match path {
            None => None,
            Some(root) => {
                let tier =
                    DiskTier::open(root, config.max_disk_bytes, config.ttl, config.sync_writes)?
                        .with_compression(config.compression);
                tier.sweep()?;
                Some(Arc::new(tier))
            }
        };
        Ok(Self {
            memory,
            disk,
            counters,
            config,
        })
    }

    /// This process's memory tier.
    fn memory(&self) -> &MemoryTier {
        self.memory.get()
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The disk tier, if any.
    pub fn disk(&self) -> Option<&DiskTier> {
        self.disk.as_deref()
    }

    /// The cached result of `key`, or `compute`'s (then cached in both tiers, unless it
    /// does not pay to keep: see [`DiskWrites`]). Identical concurrent requests in this
    /// process compute once; the others wait and share the result. `detector` is recorded
    /// in the disk entry. An error from `compute` is returned to the caller and nothing is
    /// cached. A `compute` that asks this cache for the same key on the same thread gets
    /// [`IctError::Reentrant`] (it would otherwise wait for itself forever).
    pub fn get_or_compute<E, F>(
        &self,
        key: Key,
        detector: &str,
        compute: F,
    ) -> std::result::Result<(Arc<ResultTable>, Source), Arc<E>>
    where
        E: From<IctError> + Send + Sync + 'static,
        F: FnOnce() -> std::result::Result<ResultTable, E>,
    {
        let c = &self.counters;
        if let Some(hit) = self.memory().get(&key) {
            c.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((hit, Source::Memory));
        }
        let _computing = Computing::enter(Arc::as_ptr(&self.counters) as usize, key, detector)
            .map_err(|e| Arc::new(E::from(e)))?;
        let mut source = Source::Memory; // unless this call runs the initialiser below
                                         // What the initialiser made but did not cache (a result not worth keeping, or the
                                         // error of `compute`): handed to this caller alone.
        let mut kept_out: Option<std::result::Result<Arc<ResultTable>, Arc<E>>> = None;
        let mut compute = Some(compute);
        let mut run = |source: &mut Source| -> std::result::Result<(ResultTable, bool), E> {
            let f = compute.take().ok_or_else(|| {
                E::from(IctError::Internal {
                    context: "AnalysisCache".into(),
                    message: "a computation was asked for twice".into(),
                })
            })?;
            let start = Instant::now();
            let table = f()?;
            let compute_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            c.compute_ns.fetch_add(compute_ns, Ordering::Relaxed);
            *source = Source::Computed;
            let keep = match &self.disk {
                Some(disk) => {
                    let worth = self.worth_writing(&table, compute_ns);
                    if worth {
                        self.write_through(disk, &key, &table, detector, compute_ns);
                    }
                    worth
                }
                None => true,
            };
            Ok((table, keep))
        };
        let value = self.memory().optionally_get_with(key, || {
            if let Some(disk) = &self.disk {
                match disk.get(&key) {
                    Lookup::Hit(table, _) => {
                        source = Source::Disk;
                        return Some(Arc::new(table));
                    }
                    Lookup::Corrupt(_) => {
                        c.corrupt.fetch_add(1, Ordering::Relaxed);
                    }
                    Lookup::Miss => {}
                }
            }
            match run(&mut source) {
                Ok((table, true)) => Some(Arc::new(table)),
                // Not kept in memory either: a result that recomputes faster than the disk
                // reads it back would only crowd the memory tier (and the pages its
                // allocations would otherwise reuse).
                Ok((table, false)) => {
                    kept_out = Some(Ok(Arc::new(table)));
                    None
                }
                Err(e) => {
                    kept_out = Some(Err(Arc::new(e)));
                    None
                }
            }
        });
        let value = match (value, kept_out) {
            (Some(v), _) => v,
            (None, Some(out)) => out?,
            // Another thread's initialiser made it and did not keep it: make our own.
            (None, None) => Arc::new(run(&mut source).map_err(Arc::new)?.0),
        };
        let counter = match source {
            Source::Memory => &c.memory_hits,
            Source::Disk => &c.disk_hits,
            Source::Computed => &c.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok((value, source))
    }

    /// Keeps `table` in the memory tier only, as the result of `key` (a result whose disk
    /// form is kept another way: a resumed native run's state and rows).
    pub fn remember(&self, key: Key, table: Arc<ResultTable>) {
        self.memory().insert(key, table);
    }

    /// The memory tier's entry for `key`, if any, not counted as a hit (a part of a result,
    /// such as a stored run state, rather than a result).
    pub fn recall(&self, key: &Key) -> Option<Arc<ResultTable>> {
        self.memory().get(key)
    }

    /// The memory tier's entry for `key`, if any (counted as a memory hit), without looking
    /// on disk or computing.
    pub fn peek(&self, key: &Key) -> Option<Arc<ResultTable>> {
        let hit = self.memory().get(key);
        if hit.is_some() {
            self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Where a result for `key` is stored, if it is: memory, or an entry file on disk (not
    /// decoded: a damaged entry is found, counted and recomputed when it is read). Counted
    /// as a hit of that tier. For callers that precompute and do not need the value now.
    pub fn contains(&self, key: &Key) -> Option<Source> {
        let c = &self.counters;
        if self.memory().contains_key(key) {
            c.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Some(Source::Memory);
        }
        if self.disk.as_ref().is_some_and(|d| d.contains(key)) {
            c.disk_hits.fetch_add(1, Ordering::Relaxed);
            return Some(Source::Disk);
        }
        None
    }

    /// The stored result of `key`: the memory tier's, else the disk tier's (then kept in
    /// memory too), counted as a hit of that tier; a damaged disk entry is counted,
    /// quarantined and a miss. Nothing is counted on a miss: a caller that computes
    /// elsewhere (another process) reports it through [`AnalysisCache::keep_computed`].
    pub fn lookup(&self, key: &Key) -> Option<(Arc<ResultTable>, Source)> {
        let c = &self.counters;
        if let Some(hit) = self.memory().get(key) {
            c.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Some((hit, Source::Memory));
        }
        match self.disk.as_ref()?.get(key) {
            Lookup::Hit(table, _) => {
                let table = Arc::new(table);
                self.memory().insert(*key, Arc::clone(&table));
                c.disk_hits.fetch_add(1, Ordering::Relaxed);
                Some((table, Source::Disk))
            }
            Lookup::Corrupt(_) => {
                c.corrupt.fetch_add(1, Ordering::Relaxed);
                None
            }
            Lookup::Miss => None,
        }
    }

    /// Stores a result computed elsewhere in `compute_ns` (a worker process): counted as a
    /// miss, written to disk when it pays (see [`DiskWrites`]), and kept in memory whether
    /// or not it did: computing it again costs a round trip to another process on top of
    /// `compute_ns`, which the paying rule does not see.
    pub fn keep_computed(
        &self,
        key: Key,
        detector: &str,
        table: Arc<ResultTable>,
        compute_ns: u64,
    ) {
        let c = &self.counters;
        c.compute_ns.fetch_add(compute_ns, Ordering::Relaxed);
        c.misses.fetch_add(1, Ordering::Relaxed);
        if let Some(disk) = &self.disk {
            if self.worth_writing(&table, compute_ns) {
                self.write_through(disk, &key, &table, detector, compute_ns);
            }
        }
        self.memory().insert(key, table);
    }

    /// Computes `key`'s result and writes it to the disk tier only (when it pays, see
    /// [`DiskWrites`]), bypassing the memory tier: for callers that fill the cache without
    /// using the results now (a portfolio scan that keeps nothing), so the memory tier does
    /// not fill with them. Counted as a miss. Without a disk tier it is
    /// [`AnalysisCache::get_or_compute`].
    pub fn fill<E, F>(
        &self,
        key: Key,
        detector: &str,
        compute: F,
    ) -> std::result::Result<(), Arc<E>>
    where
        E: From<IctError> + Send + Sync + 'static,
        F: FnOnce() -> std::result::Result<ResultTable, E>,
    {
        let Some(disk) = &self.disk else {
            return self.get_or_compute(key, detector, compute).map(|_| ());
        };
        let c = &self.counters;
        let start = Instant::now();
        let table = compute().map_err(Arc::new)?;
        let compute_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        c.compute_ns.fetch_add(compute_ns, Ordering::Relaxed);
        c.misses.fetch_add(1, Ordering::Relaxed);
        if self.worth_writing(&table, compute_ns) {
            self.write_through(disk, &key, &table, detector, compute_ns);
        }
        Ok(())
    }

    /// [`AnalysisCache::fill`] for a result already computed (by the caller, who keeps it):
    /// counted as a miss and written to the disk tier only (when it pays, see
    /// [`DiskWrites`]). Without a disk tier it goes to the memory tier, as `fill` does.
    pub fn fill_computed(
        &self,
        key: Key,
        detector: &str,
        table: &Arc<ResultTable>,
        compute_ns: u64,
    ) {
        let c = &self.counters;
        c.compute_ns.fetch_add(compute_ns, Ordering::Relaxed);
        c.misses.fetch_add(1, Ordering::Relaxed);
        match &self.disk {
            Some(disk) => {
                if self.worth_writing(table, compute_ns) {
                    self.write_through(disk, &key, table, detector, compute_ns);
                }
            }
            None => self.memory().insert(key, Arc::clone(table)),
        }
    }

    /// Whether a computed result goes to the disk tier (see [`DiskWrites`]); counts the
    /// ones that do not.
    fn worth_writing(&self, table: &ResultTable, compute_ns: u64) -> bool {
        self.worth_keeping(compute_ns, table.data_bytes() as u64)
    }

    /// Whether something that took `compute_ns` to make and is `raw_bytes` long is worth
    /// writing under this cache's [`DiskWrites`] (a skip is counted).
    pub fn worth_keeping(&self, compute_ns: u64, raw_bytes: u64) -> bool {
        let worth =
            self.config.disk_writes == DiskWrites::All || pays_to_keep(compute_ns, raw_bytes);
        if !worth {
            self.counters.skipped_writes.fetch_add(1, Ordering::Relaxed);
        }
        worth
    }

    /// Writes an entry that is not a detector result (a resumable run's state) to the disk
    /// tier only, outside the hit/miss counters; without a disk tier, nothing.
    pub fn write_aside(&self, key: &Key, detector: &str, table: &ResultTable) {
        if let Some(disk) = &self.disk {
            self.write_through(disk, key, table, detector, 0);
        }
    }

    /// [`AnalysisCache::write_aside`] replacing what `key` held (a note that changes, such
    /// as where the newest run state of a series is); a failure is only counted.
    pub fn note_aside(&self, key: &Key, detector: &str, table: &ResultTable) {
        if let Some(disk) = &self.disk {
            let meta = EntryMeta {
                detector: detector.to_string(),
                created_ns: now_ns(),
                compute_ns: 0,
            };
            if disk.put_replacing(key, table, &meta).is_err() {
                self.counters
                    .disk_write_errors
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Writes a computed result to disk; a failure (disk full, permissions) only costs a
    /// later recompute, so it is counted, not raised.
    fn write_through(
        &self,
        disk: &DiskTier,
        key: &Key,
        table: &ResultTable,
        detector: &str,
        compute_ns: u64,
    ) {
        let c = &self.counters;
        let meta = EntryMeta {
            detector: detector.to_string(),
            created_ns: now_ns(),
            compute_ns,
        };
        match disk.put(key, table, &meta) {
            Ok((raw, compressed, _)) => {
                c.disk_writes.fetch_add(1, Ordering::Relaxed);
                c.raw_bytes_written.fetch_add(raw, Ordering::Relaxed);
                c.compressed_bytes_written
                    .fetch_add(compressed, Ordering::Relaxed);
            }
            Err(_) => {
                c.disk_write_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A consistent snapshot of the counters (pending memory-tier work is run first, so
    /// entries and bytes are exact).
    pub fn stats(&self) -> Result<Stats> {
        self.memory().run_pending_tasks();
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Ok(Stats {
            memory_hits: get(&c.memory_hits),
            disk_hits: get(&c.disk_hits),
            misses: get(&c.misses),
            corrupt: get(&c.corrupt),
            evictions: get(&c.evictions),
            entries: self.memory().entry_count(),
            bytes_in_memory: self.memory().weighted_size(),
            bytes_on_disk: match &self.disk {
                Some(d) => d.bytes()?,
                None => 0,
            },
            disk_writes: get(&c.disk_writes),
            disk_write_errors: get(&c.disk_write_errors),
            raw_bytes_written: get(&c.raw_bytes_written),
            compressed_bytes_written: get(&c.compressed_bytes_written),
            compute_ns: get(&c.compute_ns),
            skipped_writes: get(&c.skipped_writes),
        })
    }

    /// Drops every entry of both tiers (counters are kept).
    pub fn clear(&self) -> Result<()> {
        self.memory().invalidate_all();
        self.memory().run_pending_tasks();
        if let Some(d) = &self.disk {
            d.clear()?;
        }
        Ok(())
    }

    /// Validates every disk entry (see [`DiskTier::verify`]); damaged ones are quarantined
    /// and counted as corrupt. Empty for a memory-only cache.
    pub fn verify(&self) -> Result<Vec<(std::path::PathBuf, String)>> {
        let bad = match &self.disk {
            Some(d) => d.verify()?,
            None => Vec::new(),
        };
        self.counters
            .corrupt
            .fetch_add(bad.len() as u64, Ordering::Relaxed);
        Ok(bad)
    }

    /// Runs the disk sweep now (see [`disk`]); a memory-only cache just settles its tier.
    pub fn sweep(&self) -> Result<Sweep> {
        self.memory().run_pending_tasks();
        match &self.disk {
            Some(d) => d.sweep(),
            None => Ok(Sweep::default()),
        }
    }
}

#[cfg(test)]
mod tests;
