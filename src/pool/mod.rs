//! The detector pool: analyses many series with many detectors on its own rayon thread pool.
//!
//! - Work is one task per series (all requested detectors, swings computed once per swing
//!   length and shared), ordered by estimated cost (candles x detector weights), longest
//!   first; workers pull the next task from a shared counter, so two cores finish together
//!   on skewed portfolios (a 1m series is 1,440x a 1d one).
//! - Store-backed series are memory-mapped (no copy); as a worker starts a task it asks the
//!   kernel to prefetch the next one, keeping at most `buffer_bytes` of prefetched but
//!   unstarted series, so reading overlaps computing with bounded memory.
//! - With a cache, each (series, detector, parameters) is looked up first; each series column
//!   is hashed once for all the detectors' keys.
//! - A failure (missing or damaged file, NaN prices, a bad parameter, even a panic) fails its
//!   request alone; the others complete. Cancellation stops before the next task.

mod resume;
pub mod spec;

use resume::Resume;

pub use spec::{native_detectors, parse_run, CompatInputs, Spec, DETECTORS};

use crate::cache::{input_hash, AnalysisCache, Source as Hit};
use crate::candles::Candles;
use crate::compat::InputDtypes;
use crate::error::{panic_message, IctError, Result};
use crate::param::Param;
use crate::store::{SeriesReader, Store};
use crate::table::{Dtype, ResultTable};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Where a request's candles come from.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    /// The store's (symbol, timeframe) series.
    Store,
    /// Candles in memory (validated again by every run: the caller's arrays may have
    /// changed since they were last checked).
    Candles(Candles<'a>),
}

/// One series to analyse, optionally restricted to `start <= time < end` (ns UTC).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub symbol: String,
    pub timeframe: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub source: Source<'a>,
    /// The dtypes in-memory columns had before they became float64: compat detectors
    /// compute in them, as the library does (float64 for stored series).
    pub dtypes: InputDtypes,
}

/// Shared between the caller and a running analysis: cancellation and progress.
#[derive(Debug, Default)]
pub struct Control {
    /// Set to stop: tasks not yet started fail with [`IctError::Cancelled`].
    pub cancel: AtomicBool,
    /// Requests finished (succeeded or failed).
    pub done: AtomicUsize,
    /// Candles of the finished requests.
    pub candles_done: AtomicU64,
    /// Resume native detectors over whole stored series from the run states the cache
    /// keeps (`resume.rs`). Python's `analyze` turns it on by default.
    pub resume_native: bool,
}

/// What one analysis did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolStats {
    pub requests: u64,
    pub failed: u64,
    pub candles: u64,
    pub memory_hits: u64,
    pub disk_hits: u64,
    pub misses: u64,
    /// Bars native detectors stepped (a resumed run steps only the bars after its state).
    pub rows_computed: u64,
    /// Native detector runs resumed from a stored state, and run from the first bar.
    pub resumed: u64,
    pub recomputed: u64,
    /// Compute time per detector name (misses only), ns.
    pub compute_ns: Vec<(String, u64)>,
    /// Opening and mapping series files, ns.
    pub io_ns: u64,
    /// Time tasks waited between the start of the run and their start, summed, ns.
    pub queue_wait_ns: u64,
    /// Time workers spent on tasks, summed, ns.
    pub busy_ns: u64,
    pub wall_ns: u64,
    pub workers: usize,
    /// The most bytes of prefetched but not yet started series at any moment.
    pub peak_buffer_bytes: u64,
}

impl PoolStats {
    /// Busy time over (workers x wall time).
    pub fn utilisation(&self) -> f64 {
        let capacity = self.workers as f64 * self.wall_ns as f64;
        if capacity > 0.0 {
            self.busy_ns as f64 / capacity
        } else {
            0.0
        }
    }
}

/// Results in request order; each success holds one table per spec, in spec order.
#[derive(Debug)]
pub struct Outcome {
    pub results: Vec<Result<Vec<Arc<ResultTable>>>>,
    pub stats: PoolStats,
}

/// A pool of worker threads (its own, not rayon's global pool).
#[derive(Debug)]
pub struct DetectorPool {
    threads: rayon::ThreadPool,
    workers: usize,
    buffer_bytes: u64,
    /// Per (symbol, timeframe, native detector key): the rows of the newest run state this
    /// pool wrote to the cache, where the next run over that series looks first.
    resume: Resume,
}

/// A series ready to run: its reader (store) and row range.
struct Prepared {
    reader: Option<SeriesReader>,
    rows: (usize, usize),
}

/// Counters the workers share.
#[derive(Default)]
struct Shared {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    misses: AtomicU64,
    rows_computed: AtomicU64,
    resumed: AtomicU64,
    recomputed: AtomicU64,
    queue_wait_ns: AtomicU64,
    busy_ns: AtomicU64,
    buffered: AtomicU64,
    peak_buffer: AtomicU64,
    compute_ns: Mutex<HashMap<&'static str, u64>>,
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl DetectorPool {
    /// A pool of `workers` threads (default: the number of cores); `buffer_bytes` bounds the
    /// series prefetched ahead of the workers.
    pub fn new(workers: Option<usize>, buffer_bytes: u64) -> Result<Self> {
        let workers = workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        if workers == 0 || workers > 1024 {
            return Err(IctError::parameter(
                "workers",
                format!("{workers} is not 1..1024"),
            ));
        }
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("ictcore-pool-{i}"))
            .build()
            .map_err(|e| IctError::Internal {
                context: "DetectorPool".into(),
                message: e.to_string(),
            })?;
        Ok(Self {
            threads,
            workers,
            buffer_bytes,
            resume: Mutex::default(),
        })
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The worker threads (a live session polls its series on them).
    pub fn threads(&self) -> &rayon::ThreadPool {
        &self.threads
    }

    /// Runs every spec on every request; see the module documentation. `hold` says what
    /// comes back: with [`Hold::Nothing`] the results are computed (and cached) but not held
    /// (each success is an empty list, and their memory is reused for the next series
    /// instead of growing with the portfolio).
    pub fn analyze(
        &self,
        requests: &[Request<'_>],
        specs: &[Spec],
        store: Option<&Store>,
        cache: Option<&AnalysisCache>,
        control: &Control,
        hold: Hold,
    ) -> Outcome {
        let keep = hold != Hold::Nothing;
        let start = Instant::now();
        let shared = Shared::default();
        let io_start = Instant::now();
        let prepared: Vec<Result<Prepared>> = requests.iter().map(|r| prepare(r, store)).collect();
        let io_ns = elapsed_ns(io_start);
        let weight: u64 = specs.iter().map(Spec::weight).sum::<u64>().max(1);
        let mut order: Vec<usize> = (0..requests.len())
            .filter(|&i| prepared[i].is_ok())
            .collect();
        let rows = |i: usize| {
            prepared[i]
                .as_ref()
                .map_or(0, |p| (p.rows.1 - p.rows.0) as u64)
        };
        order.sort_by_key(|&i| std::cmp::Reverse(rows(i) * weight));
        let slots: Vec<OnceLock<Result<Vec<Arc<ResultTable>>>>> =
            (0..requests.len()).map(|_| OnceLock::new()).collect();
        let next = AtomicUsize::new(0);
        let prefetched = AtomicUsize::new(0); // order positions [0, prefetched) were advised
        let advised: Vec<AtomicBool> = (0..requests.len())
            .map(|_| AtomicBool::new(false))
            .collect();
        let worker = || loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = order.get(k) else { break };
            let req = &requests[i];
            if let (Ok(p), true) = (&prepared[i], advised[i].swap(false, Ordering::Relaxed)) {
                shared
                    .buffered
                    .fetch_sub(prefetch_bytes(p), Ordering::Relaxed);
            }
            self.prefetch_ahead(&order, &prepared, k, &prefetched, &advised, &shared);
            let result = if control.cancel.load(Ordering::Relaxed) {
                Err(IctError::Cancelled {
                    what: format!("analysis of {} {}", req.symbol, req.timeframe),
                })
            } else {
                shared
                    .queue_wait_ns
                    .fetch_add(elapsed_ns(start), Ordering::Relaxed);
                let began = Instant::now();
                let result = match &prepared[i] {
                    Ok(p) => catch_unwind(AssertUnwindSafe(|| {
                        let resume = control.resume_native.then_some(&self.resume);
                        run(req, p, specs, cache, &shared, hold, resume)
                    }))
                    .unwrap_or_else(|payload| Err(panic_error(&payload, req)))
                    .map(|tables| if keep { tables } else { Vec::new() }),
                    Err(e) => Err(e.clone()),
                };
                if !keep {
                    // Nothing refers to the series any more: out of our resident set with it.
                    if let Ok(Prepared {
                        reader: Some(r), ..
                    }) = &prepared[i]
                    {
                        r.release_pages();
                    }
                }
                shared
                    .busy_ns
                    .fetch_add(elapsed_ns(began), Ordering::Relaxed);
                result
            };
            let _ = slots[i].set(result.map_err(|e| e.in_series(&req.symbol, &req.timeframe)));
            control.candles_done.fetch_add(rows(i), Ordering::Relaxed);
            control.done.fetch_add(1, Ordering::Relaxed);
        };
        self.threads.scope(|s| {
            for _ in 0..self.workers {
                s.spawn(|_| worker());
            }
        });
        let mut results = Vec::with_capacity(requests.len());
        for (i, slot) in slots.into_iter().enumerate() {
            let req = &requests[i];
            let result = match slot.into_inner() {
                Some(r) => r,
                None => {
                    // Never started: its preparation failed.
                    control.done.fetch_add(1, Ordering::Relaxed);
                    match &prepared[i] {
                        Err(e) => Err(e.clone().in_series(&req.symbol, &req.timeframe)),
                        Ok(_) => Err(IctError::Internal {
                            context: "DetectorPool".into(),
                            message: "a task was never run".into(),
                        }),
                    }
                }
            };
            results.push(result);
        }
        let compute_ns = shared
            .compute_ns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let stats = PoolStats {
            requests: requests.len() as u64,
            failed: results.iter().filter(|r| r.is_err()).count() as u64,
            candles: (0..requests.len()).map(rows).sum(),
            memory_hits: shared.memory_hits.load(Ordering::Relaxed),
            disk_hits: shared.disk_hits.load(Ordering::Relaxed),
            misses: shared.misses.load(Ordering::Relaxed),
            rows_computed: shared.rows_computed.load(Ordering::Relaxed),
            resumed: shared.resumed.load(Ordering::Relaxed),
            recomputed: shared.recomputed.load(Ordering::Relaxed),
            compute_ns: specs
                .iter()
                .map(|s| {
                    (
                        s.name().to_string(),
                        compute_ns.get(s.name()).copied().unwrap_or(0),
                    )
                })
                .collect(),
            io_ns,
            queue_wait_ns: shared.queue_wait_ns.load(Ordering::Relaxed),
            busy_ns: shared.busy_ns.load(Ordering::Relaxed),
            wall_ns: elapsed_ns(start),
            workers: self.workers,
            peak_buffer_bytes: shared.peak_buffer.load(Ordering::Relaxed),
        };
        Outcome { results, stats }
    }

    /// Advises the kernel to read the series after position `k` while the bytes prefetched
    /// but not started stay within the buffer.
    fn prefetch_ahead(
        &self,
        order: &[usize],
        prepared: &[Result<Prepared>],
        k: usize,
        prefetched: &AtomicUsize,
        advised: &[AtomicBool],
        shared: &Shared,
    ) {
        prefetched.fetch_max(k + 1, Ordering::Relaxed); // started tasks need no prefetch
        loop {
            let at = prefetched.load(Ordering::Relaxed);
            let Some(&i) = order.get(at) else { return };
            let Ok(p) = &prepared[i] else {
                let _ =
                    prefetched.compare_exchange(at, at + 1, Ordering::Relaxed, Ordering::Relaxed);
                continue;
            };
            let bytes = prefetch_bytes(p);
            let buffered = shared.buffered.load(Ordering::Relaxed);
            if buffered > 0 && buffered + bytes > self.buffer_bytes {
                return;
            }
            if prefetched
                .compare_exchange(at, at + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                continue; // another worker advanced it
            }
            if let Some(reader) = &p.reader {
                reader.prefetch();
                advised[i].store(true, Ordering::Relaxed);
                let now = shared.buffered.fetch_add(bytes, Ordering::Relaxed) + bytes;
                shared.peak_buffer.fetch_max(now, Ordering::Relaxed);
            }
        }
    }
}

/// Bytes a prefetch of the series pulls in (six 8-byte columns).
fn prefetch_bytes(p: &Prepared) -> u64 {
    if p.reader.is_some() {
        (p.rows.1 - p.rows.0) as u64 * 48
    } else {
        0
    }
}

fn panic_error(payload: &Box<dyn std::any::Any + Send>, req: &Request<'_>) -> IctError {
    IctError::Internal {
        context: format!("DetectorPool ({} {})", req.symbol, req.timeframe),
        message: format!("panic: {}", panic_message(payload.as_ref())),
    }
}

/// Opens the request's series and finds its row range.
fn prepare(req: &Request<'_>, store: Option<&Store>) -> Result<Prepared> {
    let reader = match &req.source {
        Source::Store => {
            let store = store.ok_or_else(|| {
                IctError::parameter("requests", "a (symbol, timeframe) request needs a store")
            })?;
            // Block checksums are checked by the worker that runs it (in parallel).
            Some(store.read_unchecked(&req.symbol, &req.timeframe)?)
        }
        Source::Candles(c) => {
            // In-memory candles are checked every run: their arrays may have changed since
            // they were built (`c.close[10] = nan`, a shortened column).
            Candles::new(c.time, c.open, c.high, c.low, c.close, c.volume)?;
            None
        }
    };
    let time = match (&req.source, &reader) {
        (_, Some(r)) => r.time()?,
        (Source::Candles(c), None) => c.time,
        (Source::Store, None) => &[],
    };
    let rows = range(time, req.start, req.end);
    Ok(Prepared { reader, rows })
}

/// Rows with `start <= time < end` of a sorted time column.
fn range(time: &[i64], start: Option<i64>, end: Option<i64>) -> (usize, usize) {
    let lo = start.map_or(0, |s| time.partition_point(|&t| t < s));
    let hi = end.map_or(time.len(), |e| time.partition_point(|&t| t < e));
    (lo, hi.max(lo))
}

/// The candles of a prepared request.
fn candles<'a>(req: &'a Request<'a>, p: &'a Prepared) -> Result<Candles<'a>> {
    let (lo, hi) = p.rows;
    let full = match (&req.source, &p.reader) {
        (Source::Candles(c), _) => *c,
        (Source::Store, Some(r)) => r.candles()?,
        (Source::Store, None) => {
            return Err(IctError::Internal {
                context: "DetectorPool".into(),
                message: "store request without a reader".into(),
            })
        }
    };
    Ok(Candles {
        time: &full.time[lo..hi],
        open: &full.open[lo..hi],
        high: &full.high[lo..hi],
        low: &full.low[lo..hi],
        close: &full.close[lo..hi],
        volume: &full.volume[lo..hi],
    })
}

/// What a run holds of its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Nothing: results are computed (and cached) only.
    Nothing,
    /// Every result as computed.
    Dense,
    /// Compat frames compact ([`crate::compact`]); one whose compact form is still large
    /// as a digest (recomputed on access and checked against it); native tables as they are.
    Compact,
}

/// Runs every spec on one request.
fn run(
    req: &Request<'_>,
    p: &Prepared,
    specs: &[Spec],
    cache: Option<&AnalysisCache>,
    shared: &Shared,
    hold: Hold,
    resume: Option<&Resume>,
) -> Result<Vec<Arc<ResultTable>>> {
    let c = candles(req, p)?;
    let whole = p
        .reader
        .as_ref()
        .filter(|r| p.rows == (0, r.header().committed_rows as usize));
    let mut task = Task {
        req,
        c,
        cache,
        shared,
        hashes: HashMap::new(),
        swings: HashMap::new(),
        reader: p.reader.as_ref(),
        whole,
        checked: std::cell::Cell::new(false),
        resume,
        prefixes: std::cell::RefCell::default(),
    };
    specs
        .iter()
        .map(|spec| {
            if hold == Hold::Nothing && task.fill(spec)? {
                return Ok(Arc::new(ResultTable::default()));
            }
            let table = task.get(spec)?;
            if hold == Hold::Dense || spec.is_native() {
                return Ok(table);
            }
            // Held results stay compact until asked for (a compat frame is mostly empty
            // rows): the dense table goes back to the cache or the allocator now. One still
            // large compact (a column that changes on every row) is held as its digest and
            // recomputed when asked for, checked against it.
            let held = crate::compact::compact(&table).map_or_else(|| Arc::clone(&table), Arc::new);
            let rows = table.columns.first().map_or(0, |c| c.len());
            if held.data_bytes() > crate::compact::DEFER_BYTES_PER_ROW * rows {
                return Ok(Arc::new(crate::compact::deferred(&table)));
            }
            Ok(held)
        })
        .collect()
}

/// One request's state: its input hashes and swings, each computed at most once.
struct Task<'a> {
    req: &'a Request<'a>,
    c: Candles<'a>,
    cache: Option<&'a AnalysisCache>,
    shared: &'a Shared,
    hashes: HashMap<&'static str, [u8; 16]>,
    swings: HashMap<usize, Arc<ResultTable>>,
    /// The stored series, if the request reads one.
    reader: Option<&'a SeriesReader>,
    /// The stored series when the request covers all of it: cache keys then come from the
    /// checksums its writer recorded, without reading the rows.
    whole: Option<&'a SeriesReader>,
    /// Whether the stored rows were checked against their checksums (before the first
    /// computation: damaged data is never analysed; results found in the cache need none).
    checked: std::cell::Cell<bool>,
    /// Set when native runs resume (see [`Control::resume_native`]).
    resume: Option<&'a Resume>,
    /// Prefix identities of the stored series by rows (each hashed once per task).
    prefixes: std::cell::RefCell<HashMap<usize, [u8; 16]>>,
}

impl Task<'_> {
    /// The result of `spec`, from the cache or computed.
    fn get(&mut self, spec: &Spec) -> Result<Arc<ResultTable>> {
        if let Some(with) = self.resumable(spec) {
            return self.resumed_tables(spec, with);
        }
        if let Spec::SwingHighsLows { swing_length } = spec {
            if let Some(s) = self.swings.get(swing_length) {
                return Ok(Arc::clone(s));
            }
        }
        // Swings first (outside the cache's initialiser, which must not re-enter for a
        // computation this task may also need for another spec).
        let swings = match spec.swing_length() {
            Some(len) if self.cache.is_none() => {
                Some(self.get(&Spec::SwingHighsLows { swing_length: len })?)
            }
            _ => None,
        };
        let table = match self.cache {
            None => Arc::new(self.compute(spec, swings.as_deref())?),
            Some(cache) => {
                let key = self.key(spec)?;
                let id = key_id(spec);
                // A swing-based miss needs the swings: fetch them (cached too) on demand.
                let needs = spec.swing_length();
                let (table, source) = if let Some(hit) = cache.peek(&key) {
                    (hit, Hit::Memory)
                } else {
                    let swings = match needs {
                        Some(len) => Some(self.get(&Spec::SwingHighsLows { swing_length: len })?),
                        None => None,
                    };
                    cache
                        .get_or_compute(key, &id, || self.compute(spec, swings.as_deref()))
                        .map_err(|e| (*e).clone())?
                };
                let counter = match source {
                    Hit::Memory => &self.shared.memory_hits,
                    Hit::Disk => &self.shared.disk_hits,
                    Hit::Computed => &self.shared.misses,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                table
            }
        };
        if let Spec::SwingHighsLows { swing_length } = spec {
            self.swings.insert(*swing_length, Arc::clone(&table));
        }
        Ok(table)
    }

    /// The cache key of `spec` on this series (each column hashed once per task). A whole
    /// stored series is identified by its recorded block checksums (the input's name then
    /// says so, so the two kinds of identity never meet); anything else by its bytes.
    fn key(&mut self, spec: &Spec) -> Result<crate::cache::Key> {
        let mut key = spec.key_builder()?;
        if let (false, Some(text)) = (spec.is_native(), self.req.dtypes.key_text()) {
            // The same values in other dtypes are another computation.
            key.param("input_dtypes", Param::Str(text))?;
        }
        for &name in spec.inputs() {
            let (bytes, dtype) = column(&self.c, name);
            let (column, stored) = stored_input(name);
            let hash = match self.hashes.get(name) {
                Some(hash) => *hash,
                None => {
                    let hash = match self.whole {
                        Some(reader) => reader.column_digest(column)?,
                        None => input_hash(bytes),
                    };
                    self.hashes.insert(name, hash);
                    hash
                }
            };
            let label = if self.whole.is_some() { stored } else { name };
            key.input_hashed(label, dtype, (bytes.len() / 8) as u64, hash);
        }
        Ok(key.key())
    }

    /// Without `keep`: makes sure the result is stored, and that is all. A stored one is
    /// not read back (only its presence checked); a missing one is computed and written to
    /// the disk tier without passing through the memory tier (which would only fill with
    /// results nobody holds). False when there is no disk tier to fill (the caller then
    /// goes the usual way).
    fn fill(&mut self, spec: &Spec) -> Result<bool> {
        let Some(cache) = self.cache.filter(|c| c.disk().is_some()) else {
            return Ok(false);
        };
        if let Some(with) = self.resumable(spec) {
            self.resumed_fill(spec, with)?;
            return Ok(true);
        }
        let key = self.key(spec)?;
        if let Some(hit) = cache.contains(&key) {
            let counter = match hit {
                Hit::Disk => &self.shared.disk_hits,
                _ => &self.shared.memory_hits,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        }
        if let Spec::SwingHighsLows { swing_length } = spec {
            // Kept by the task for the specs reading them, written to disk, and kept out of
            // the memory tier (a portfolio's swings would fill it: peak memory).
            let began = Instant::now();
            let table = self.local_swings(*swing_length)?;
            cache.fill_computed(key, &key_id(spec), &table, elapsed_ns(began));
            self.shared.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        }
        let swings = match spec.swing_length() {
            Some(len) => Some(self.local_swings(len)?),
            None => None,
        };
        cache
            .fill(key, &key_id(spec), || self.compute(spec, swings.as_deref()))
            .map_err(|e| (*e).clone())?;
        self.shared.misses.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Swings of this series for `keep = false` runs: computed once per task, never through
    /// the memory tier.
    fn local_swings(&mut self, swing_length: usize) -> Result<Arc<ResultTable>> {
        if let Some(s) = self.swings.get(&swing_length) {
            return Ok(Arc::clone(s));
        }
        let spec = Spec::SwingHighsLows { swing_length };
        let table = Arc::new(self.compute(&spec, None)?);
        self.swings.insert(swing_length, Arc::clone(&table));
        Ok(table)
    }

    fn compute(&self, spec: &Spec, swings: Option<&ResultTable>) -> Result<ResultTable> {
        self.check_once()?;
        self.timed(spec, || {
            if let Spec::Native(_) = spec {
                self.shared.recomputed.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .rows_computed
                    .fetch_add(self.c.len() as u64, Ordering::Relaxed);
            }
            spec.compute(&self.c, swings, &self.req.symbol, self.req.dtypes)
        })
    }

    /// Checks the stored rows against their checksums, once per task: damaged data is
    /// never analysed.
    fn check_once(&self) -> Result<()> {
        if let (Some(reader), false) = (self.reader, self.checked.get()) {
            reader.check_blocks()?;
            self.checked.set(true);
        }
        Ok(())
    }

    /// `work`, its time added to `spec`'s compute time.
    fn timed<T>(&self, spec: &Spec, work: impl FnOnce() -> T) -> T {
        let began = Instant::now();
        let out = work();
        let ns = elapsed_ns(began);
        *self
            .shared
            .compute_ns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(spec.name())
            .or_default() += ns;
        out
    }
}

/// An input column as the cache key names it (the session's wall clock is the UTC time).
fn column<'a>(c: &Candles<'a>, name: &str) -> (&'a [u8], Dtype) {
    match name {
        "time" | "wall_clock" => (bytemuck::cast_slice(c.time), Dtype::I64),
        "open" => (bytemuck::cast_slice(c.open), Dtype::F64),
        "high" => (bytemuck::cast_slice(c.high), Dtype::F64),
        "low" => (bytemuck::cast_slice(c.low), Dtype::F64),
        "close" => (bytemuck::cast_slice(c.close), Dtype::F64),
        _ => (bytemuck::cast_slice(c.volume), Dtype::F64),
    }
}

/// Per key input: its store column and the name a key records for it when it is identified
/// by the stored block checksums (the session's wall clock is the time column).
fn stored_input(name: &str) -> (usize, &'static str) {
    match name {
        "time" => (0, "time@store-blocks"),
        "wall_clock" => (0, "wall_clock@store-blocks"),
        "open" => (1, "open@store-blocks"),
        "high" => (2, "high@store-blocks"),
        "low" => (3, "low@store-blocks"),
        "close" => (4, "close@store-blocks"),
        _ => (5, "volume@store-blocks"),
    }
}

fn key_id(spec: &Spec) -> String {
    format!("compat.{}", spec.name())
}

#[cfg(test)]
mod tests;
