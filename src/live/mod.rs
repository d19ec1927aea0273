//! Live sessions: native detectors kept running over stored series, so each poll costs what
//! the bars appended since the previous one cost, not the history.
//!
//! A [`LiveSession`] holds, per series, the detectors' graph, the ATRs of the newest bars and
//! how many rows of each table it has reported. [`LiveSession::poll`] refreshes each series'
//! reader (an unchanged file is one `open` and a header read), steps only the committed rows
//! after the last one it stepped — over the store's mapping, no copy of the bars — and
//! returns the rows every table gained. Detectors are causal, so those rows are exactly the
//! batch run's rows known within the new bars, and the union of everything polled equals a
//! batch run over the whole series.
//!
//! A series that is no longer the one stepped (rewritten by an import that filled a gap, or
//! replaced) is recomputed from its first bar and reported as reset: the update then holds
//! its whole tables. Appends within a file are the store's append-only commits (a file
//! changed in place is an error of the reader); a file mapped anew is checked against the
//! identity of the rows stepped ([`SeriesReader::prefix_digest`]), and the last stepped bar
//! is compared on every poll.
//!
//! [`LiveSession::save`] writes each series' state to a state directory ([`state`]); a
//! session made later over the same store, series and detectors resumes from them after
//! checking them against the stored rows, without stepping a bar it already stepped.

pub mod state;

pub use state::StateDir;

use crate::candles::Candles;
use crate::detect::graph::Graph;
use crate::detect::history::History;
use crate::detect::NativeSpec;
use crate::error::{panic_message, IctError, Result};
use crate::store::{SeriesReader, Store};
use crate::table::ResultTable;
use rayon::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// What a poll found for one series.
#[derive(Debug, Default)]
pub struct Update {
    /// Bars stepped by this poll.
    pub stepped: usize,
    /// The series was recomputed from its first bar (first poll of a series with no saved
    /// state, or a series rewritten since the previous poll): `tables` are its whole tables.
    pub reset: bool,
    /// Per requested detector, its tables' rows that became known in this poll, in the
    /// declaration's table order (with columns, when some table of the detector has new
    /// rows and another has none); no tables for a detector with no new rows (except on a
    /// reset: whole tables, empty or not); no detector at all when the series' file did not
    /// change.
    pub tables: Vec<Vec<ResultTable>>,
    /// Rows in `tables`.
    pub rows: usize,
}

/// How the rows already stepped are recognised in the store's series.
#[derive(Debug, Clone)]
enum Anchor {
    /// Nothing stepped yet.
    None,
    /// The reader of the previous poll: a poll whose reader maps the same file continues
    /// it (the store's commits append), one that maps another file compares prefix digests.
    Reader(Box<SeriesReader>),
    /// The identity of the rows a restored state was made on.
    Digest([u8; 16]),
}

/// One series of a session: its detectors and what they have seen and reported.
struct Series {
    symbol: String,
    timeframe: String,
    graph: Graph,
    /// Graph node of each requested detector.
    ids: Vec<usize>,
    /// ATRs of the newest stepped bars ([`History::atr_tail`]).
    atr: Vec<f64>,
    stepped: usize,
    /// The last stepped bar (time and bits of its values).
    last: Option<(i64, [u64; 5])>,
    /// Per requested detector, rows of each of its tables already reported.
    reported: Vec<Vec<usize>>,
    anchor: Anchor,
    /// A restored state is in use (until the first reset).
    restored: bool,
}

impl Series {
    fn new(symbol: &str, timeframe: &str, specs: &[NativeSpec]) -> Result<Self> {
        let (graph, ids) = Graph::new(specs)?;
        Ok(Self {
            symbol: symbol.to_string(),
            timeframe: timeframe.to_string(),
            graph,
            ids,
            atr: Vec::new(),
            stepped: 0,
            last: None,
            reported: specs.iter().map(|s| vec![0; s.tables().count()]).collect(),
            anchor: Anchor::None,
            restored: false,
        })
    }

    /// Forgets everything stepped: the next poll starts from the first bar.
    fn reset(&mut self, specs: &[NativeSpec]) -> Result<()> {
        *self = Self::new(&self.symbol, &self.timeframe, specs)?;
        Ok(())
    }

    /// Whether the rows stepped so far are still the first rows of `reader`'s series.
    fn continues(&self, reader: &SeriesReader, candles: &Candles) -> Result<bool> {
        let n = self.stepped;
        if n == 0 {
            return Ok(true);
        }
        if candles.len() < n || bar_bits(candles, n - 1) != self.last {
            return Ok(false);
        }
        let (dev, ino, _) = reader.version();
        Ok(match &self.anchor {
            Anchor::None => false,
            Anchor::Reader(before) => {
                let (d, i, _) = before.version();
                (d, i) == (dev, ino)
                    || before.prefix_digest(n as u64)? == reader.prefix_digest(n as u64)?
            }
            Anchor::Digest(digest) => *digest == reader.prefix_digest(n as u64)?,
        })
    }

    /// Steps the rows committed since the previous poll and returns what they made known.
    fn poll(&mut self, store: &Store, specs: &[NativeSpec]) -> Result<Update> {
        let reader = store.read_unchecked(&self.symbol, &self.timeframe)?;
        if let Anchor::Reader(before) = &self.anchor {
            if before.version() == reader.version() {
                return Ok(self.unchanged());
            }
        }
        reader.check_blocks()?;
        let candles = reader.candles()?;
        let mut reset = self.stepped == 0 && !self.restored;
        if !self.continues(&reader, &candles)? {
            self.reset(specs)?;
            reset = true;
        }
        let from = self.stepped;
        let mut history = History::resumed(&candles, from, std::mem::take(&mut self.atr));
        self.graph.reserve(candles.len() - from);
        while history.advance() {
            if let Err(e) = self.graph.step(&history) {
                // Detectors stopped part-way through a bar: start afresh next time.
                self.reset(specs)?;
                return Err(e);
            }
        }
        self.atr = history.atr_tail();
        self.stepped = history.len();
        self.last = crate::detect::checkpoint::last_bar(&history);
        self.anchor = Anchor::Reader(Box::new(reader.clone()));
        let (tables, rows) = self.new_rows(&history, specs, reset);
        let stepped = self.stepped - from;
        Ok(Update {
            stepped,
            reset,
            tables,
            rows,
        })
    }

    /// The update of a series whose file has not changed: nothing (no tables at all).
    fn unchanged(&self) -> Update {
        Update::default()
    }

    /// Each requested table's rows not reported yet (and marks them reported).
    fn new_rows(
        &mut self,
        history: &History,
        specs: &[NativeSpec],
        reset: bool,
    ) -> (Vec<Vec<ResultTable>>, usize) {
        let mut total = 0;
        let mut out = Vec::with_capacity(specs.len());
        for ((spec, &id), reported) in specs.iter().zip(&self.ids).zip(&mut self.reported) {
            let Some(node) = self.graph.node(id) else {
                out.push(Vec::new());
                continue;
            };
            let new: usize = (0..spec.tables().count())
                .zip(reported.iter())
                .map(|(which, done)| node.rows(which).saturating_sub(*done))
                .sum();
            if new == 0 && !reset {
                // Nothing new: no tables at all (most detectors, most cycles).
                out.push(Vec::new());
                continue;
            }
            total += new;
            let mut tables = Vec::new();
            for (which, done) in (0..spec.tables().count()).zip(reported.iter_mut()) {
                let now = node.rows(which);
                // An empty table still has its columns (a zone table's new transitions
                // travel with no new zone).
                tables.push(node.table(history, which, (*done).min(now)));
                *done = now;
            }
            out.push(tables);
        }
        self.forget_reported();
        (out, total)
    }

    /// Drops what was reported and what nobody can ask for again
    /// ([`Graph::forget_handed`]): the session holds what is still open and the tables'
    /// row counts, not every row it ever reported.
    fn forget_reported(&mut self) {
        let handed: Vec<(usize, &[usize])> = self
            .ids
            .iter()
            .zip(&self.reported)
            .map(|(&id, rows)| (id, rows.as_slice()))
            .collect();
        self.graph.forget_handed(&handed);
    }
}

/// The bits of bar `i` (an exact comparison: NaN-free stored rows, -0.0 told from 0.0).
fn bar_bits(c: &Candles, i: usize) -> Option<(i64, [u64; 5])> {
    (i < c.len()).then(|| {
        (
            c.time[i],
            [c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]].map(f64::to_bits),
        )
    })
}

/// Counters of one poll.
#[derive(Debug, Default, Clone)]
pub struct PollStats {
    /// Series that had new rows.
    pub changed: usize,
    /// Series recomputed from their first bar.
    pub reset: usize,
    /// Bars stepped, over every series.
    pub stepped: usize,
    /// Rows reported, over every series.
    pub rows: usize,
    /// Series whose poll failed.
    pub failed: usize,
}

/// Native detectors kept running over stored series (see the module documentation).
pub struct LiveSession {
    specs: Vec<NativeSpec>,
    series: Vec<Mutex<Series>>,
    /// Series whose state came from a saved one.
    restored: usize,
}

impl LiveSession {
    /// A session running `specs` over the stored series `requests` ((symbol, timeframe),
    /// each once); nothing is read until the first poll. With `states`, each series resumes
    /// from the state a session over the same store, series and detectors saved there, when
    /// one is found (it is checked against the stored rows on the first poll; a state that
    /// does not decode is ignored).
    pub fn new(
        specs: Vec<NativeSpec>,
        requests: &[(String, String)],
        store: &Store,
        states: Option<&StateDir>,
        threads: &rayon::ThreadPool,
    ) -> Result<Self> {
        if specs.is_empty() {
            return Err(IctError::parameter("detectors", "no detectors"));
        }
        let mut seen = std::collections::HashSet::new();
        for (symbol, timeframe) in requests {
            if !seen.insert((symbol, timeframe)) {
                return Err(IctError::parameter(
                    "requests",
                    format!("({symbol}, {timeframe}) is requested twice"),
                ));
            }
        }
        // States are read and decoded on every worker (a restart's cost is their bytes).
        let made: Vec<Result<(Series, bool)>> = threads.install(|| {
            requests
                .par_iter()
                .map(|(symbol, timeframe)| {
                    let mut s = Series::new(symbol, timeframe, &specs)?;
                    let found =
                        states.and_then(|d| state::load(d, store, &specs, symbol, timeframe));
                    let Some(found) = found else {
                        return Ok((s, false));
                    };
                    if state::apply(&mut s, found, &specs).is_ok() {
                        return Ok((s, true));
                    }
                    s.reset(&specs)?;
                    Ok((s, false))
                })
                .collect()
        });
        let mut series = Vec::with_capacity(requests.len());
        let mut restored = 0;
        for one in made {
            let (s, resumed) = one?;
            restored += usize::from(resumed);
            series.push(Mutex::new(s));
        }
        Ok(Self {
            specs,
            series,
            restored,
        })
    }

    /// The detectors.
    pub fn specs(&self) -> &[NativeSpec] {
        &self.specs
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the session has no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Series that resumed from a saved state when the session was made.
    pub fn restored(&self) -> usize {
        self.restored
    }

    /// Steps every series' new rows on `threads`; per series (in request order) its update
    /// or its error (a missing or damaged series fails alone; a panic is that series'
    /// error and resets it). Once `cancel` is set, series not started yet fail as
    /// cancelled and keep their state (the next poll steps them).
    pub fn poll(
        &self,
        store: &Store,
        threads: &rayon::ThreadPool,
        cancel: &AtomicBool,
    ) -> (Vec<Result<Update>>, PollStats) {
        let specs = &self.specs;
        let updates: Vec<Result<Update>> = threads.install(|| {
            self.series
                .par_iter()
                .map(|cell| {
                    let mut s = cell
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if cancel.load(Ordering::Relaxed) {
                        return Err(IctError::Cancelled {
                            what: format!("LiveSession.poll ({} {})", s.symbol, s.timeframe),
                        });
                    }
                    match catch_unwind(AssertUnwindSafe(|| s.poll(store, specs))) {
                        Ok(out) => out.map_err(|e| e.in_series(&s.symbol, &s.timeframe)),
                        Err(payload) => {
                            let _ = s.reset(specs);
                            Err(IctError::Internal {
                                context: format!("LiveSession ({} {})", s.symbol, s.timeframe),
                                message: format!("panic: {}", panic_message(payload.as_ref())),
                            })
                        }
                    }
                })
                .collect()
        });
        let mut stats = PollStats::default();
        for u in &updates {
            match u {
                Ok(u) => {
                    stats.changed += usize::from(u.stepped > 0 || u.reset);
                    stats.reset += usize::from(u.reset);
                    stats.stepped += u.stepped;
                    stats.rows += u.rows;
                }
                Err(_) => stats.failed += 1,
            }
        }
        (updates, stats)
    }

    /// Saves every series' state in `states` (see [`state`]); returns the series saved and
    /// their bytes. Series never polled are skipped.
    pub fn save(
        &self,
        store: &Store,
        states: &StateDir,
        threads: &rayon::ThreadPool,
    ) -> Result<(usize, u64)> {
        let saved: Vec<Result<Option<u64>>> = threads.install(|| {
            self.series
                .par_iter()
                .map(|cell| {
                    let s = cell
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    state::save(&s, store, states, &self.specs)
                })
                .collect()
        });
        let mut count = 0;
        let mut bytes = 0;
        for s in saved {
            if let Some(b) = s? {
                count += 1;
                bytes += b;
            }
        }
        Ok((count, bytes))
    }
}

#[cfg(test)]
mod tests;
