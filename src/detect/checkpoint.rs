//! Checkpoints: an [`Engine`]'s whole state as bytes, restored without stepping a bar.
//!
//! Every detector's state derives serde's traits and is encoded with postcard; the engine
//! adds its detectors (names and every resolved parameter) and its bars (their ATR is
//! recomputed on restore, as a batch computes it). The
//! frame is checked before anything is decoded:
//!
//! ```text
//! magic "ICTCKPT\0" | format u32 LE | revision i64 LE | payload length u64 LE | xxh3-64 of payload u64 LE | payload
//! ```
//!
//! A damaged, truncated or foreign checkpoint fails the frame check; one written by another
//! format or detector revision (whose states may mean something else) is refused as well;
//! all of them as [`IctError::Corrupt`], never decoded into a detector.

use super::engine::Engine;
use super::history::History;
use super::registry::NativeSpec;
use crate::error::{IctError, Result};
use crate::param::Param;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::PathBuf;

const ENGINE: &[u8; 8] = b"ICTCKPT\0";
const RUN: &[u8; 8] = b"ICTRUN\0\0";
/// The layout of the frame and payload; bumped on any change to them. 2: the zone
/// transition and liquidity sweep logs record how many of their oldest rows were dropped.
/// 3: so do the swing, structure break and liquidity pool logs.
const FORMAT: u32 = 3;
pub(crate) const HEADER: usize = 8 + 4 + 8 + 8 + 8;

/// A detector's state to and from bytes (every serde type has it).
pub trait Checkpointed {
    fn save(&self) -> Result<Vec<u8>>;
    fn load(&mut self, bytes: &[u8]) -> Result<()>;
}

impl<T: Serialize + DeserializeOwned> Checkpointed for T {
    fn save(&self) -> Result<Vec<u8>> {
        postcard::to_stdvec(self).map_err(|e| IctError::Internal {
            context: "checkpoint".into(),
            message: e.to_string(),
        })
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        *self = postcard::from_bytes(bytes).map_err(|e| corrupt(format!("a state: {e}")))?;
        Ok(())
    }
}

/// The error for a checkpoint that cannot be used.
pub fn corrupt(detail: impl Into<String>) -> IctError {
    IctError::Corrupt {
        path: PathBuf::from("<checkpoint>"),
        detail: detail.into(),
    }
}

/// The bars of an engine (their ATR is recomputed on restore: cheaper than 8 bytes a bar).
#[derive(Serialize, Deserialize)]
pub struct Bars {
    pub time: Vec<i64>,
    pub values: [Vec<f64>; 5],
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The requested detectors: name and every parameter, resolved.
    specs: Vec<(String, Vec<(String, Param)>)>,
    bars: Bars,
    /// Each graph node's state, in node order (the graph is rebuilt from `specs`).
    nodes: Vec<Vec<u8>>,
}

/// The engine's state as a checkpoint.
pub fn save(engine: &Engine) -> Result<Vec<u8>> {
    let payload = Payload {
        specs: engine.specs().map(NativeSpec::described).collect(),
        bars: engine.history.to_bars(),
        nodes: engine.node_states()?,
    };
    frame(ENGINE, &payload)
}

/// `payload` encoded behind the frame (see the module documentation).
pub(crate) fn frame<T: Serialize>(magic: &[u8; 8], payload: &T) -> Result<Vec<u8>> {
    let body = postcard::to_stdvec(payload).map_err(|e| IctError::Internal {
        context: "checkpoint".into(),
        message: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&super::REVISION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn word<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N]> {
    bytes
        .get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("truncated header"))
}

/// Where a batch run of one detector stopped: its graph's state after `bars` bars.
#[derive(Serialize, Deserialize)]
struct RunPayload {
    spec: (String, Vec<(String, Param)>),
    bars: u64,
    /// The last of those bars: compared with the series a run resumes on (callers key run
    /// states by the prefix's content; this catches a state handed to the wrong series).
    last: Option<(i64, [u64; 5])>,
    /// The ATRs of the newest bars ([`History::atr_tail`]): a resumed run continues the
    /// ATR from them instead of recomputing it over the prefix.
    atr: Vec<f64>,
    nodes: Vec<Vec<u8>>,
}

/// A batch run that can be resumed: the rows its tables gained, its state after the last
/// bar, and how many bars it stepped.
#[derive(Debug)]
pub struct Resumable {
    /// Per table, the rows that became known in the bars this run stepped (all rows for a
    /// run from the first bar): after the rows of the run its state came from, they make
    /// the full run's table.
    pub tables: Vec<crate::table::ResultTable>,
    /// The state after the last bar. It holds what is still open and the tables' row
    /// counts, not the rows already handed out in `tables`.
    pub state: Vec<u8>,
    pub stepped: usize,
    /// Time spent stepping those bars, ns.
    pub step_ns: u64,
    /// The state after the bar `save_at` asked for, when the run stepped through it (the
    /// rows known by then are in its `tables`, the rest in the run's).
    pub saved: Option<Saved>,
}

/// A state kept part-way through a [`Resumable`] run.
#[derive(Debug)]
pub struct Saved {
    pub rows: usize,
    pub state: Vec<u8>,
    pub tables: Vec<crate::table::ResultTable>,
}

pub(crate) fn last_bar(history: &History) -> Option<(i64, [u64; 5])> {
    history.last().map(|b| {
        (
            b.time,
            [b.open, b.high, b.low, b.close, b.volume].map(f64::to_bits),
        )
    })
}

/// [`super::run`] of `spec` over `candles`, resumed from `state` (what a run of the same
/// detector made on a prefix of these candles) when given: only the bars after the prefix
/// are stepped, and the tables of the run the state came from followed by this run's
/// `tables` equal a full run's bit for bit. A state of another detector or revision, one
/// made on more bars than there are, or whose last bar is not the candles' bar at that
/// row, is refused (`IctError::Corrupt`); the caller then runs anew. With
/// `save_at = Some(rows)`, the state after that many bars is kept too (when the run steps
/// through it), so a later run can resume from there.
pub fn run_resumable(
    spec: &NativeSpec,
    candles: &crate::Candles<'_>,
    state: Option<&[u8]>,
    save_at: Option<usize>,
) -> Result<Resumable> {
    let (mut graph, ids) = super::graph::Graph::new(std::slice::from_ref(spec))?;
    let mut history = match state {
        None => History::over(candles),
        Some(bytes) => {
            let payload: RunPayload = unframe(RUN, bytes)?;
            let (name, params) = payload.spec;
            let theirs = NativeSpec::parse(&name, params).map_err(|e| corrupt(e.to_string()))?;
            if &theirs != spec {
                return Err(corrupt(format!(
                    "the state of {name} with other parameters, not of {}",
                    spec.name()
                )));
            }
            let bars = usize::try_from(payload.bars).unwrap_or(usize::MAX);
            if bars > candles.len() {
                return Err(corrupt(format!(
                    "a state after {bars} bars for a series of {}",
                    candles.len()
                )));
            }
            if payload.atr.len() != bars.min(super::history::ATR_TAIL) {
                return Err(corrupt(format!(
                    "a state after {bars} bars with {} ATRs",
                    payload.atr.len()
                )));
            }
            let history = History::resumed(candles, bars, payload.atr);
            if last_bar(&history) != payload.last {
                return Err(corrupt(format!(
                    "a state whose bar {} is not this series' (made on another series)",
                    bars.saturating_sub(1)
                )));
            }
            graph.load(&payload.nodes)?;
            history
        }
    };
    let root = ids.first().copied().unwrap_or(0);
    let from = history.len();
    let mut handed = handed_out(&graph, root, spec);
    graph.reserve(candles.len() - from);
    let mut saved = None;
    let began = std::time::Instant::now();
    while history.advance() {
        graph.step(&history)?;
        if save_at == Some(history.len()) && history.len() < candles.len() {
            let tables = hand_out(&mut graph, root, spec, &history, &mut handed);
            saved = Some(Saved {
                rows: history.len(),
                state: frame(RUN, &run_payload(spec, &history, &graph)?)?,
                tables,
            });
        }
    }
    let step_ns = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let tables = hand_out(&mut graph, root, spec, &history, &mut handed);
    Ok(Resumable {
        step_ns,
        tables,
        state: frame(RUN, &run_payload(spec, &history, &graph)?)?,
        stepped: history.len() - from,
        saved,
    })
}

/// Rows of each of the root's tables already known (handed out by earlier runs).
fn handed_out(graph: &super::graph::Graph, root: usize, spec: &NativeSpec) -> Vec<usize> {
    (0..spec.declaration.tables.len())
        .map(|which| graph.node(root).map_or(0, |d| d.rows(which)))
        .collect()
}

/// The root's table rows not handed out yet; then the graph forgets what nobody can ask
/// for again ([`super::graph::Graph::forget_handed`]), so a state holds what is still
/// open, not the history.
fn hand_out(
    graph: &mut super::graph::Graph,
    root: usize,
    spec: &NativeSpec,
    history: &History,
    handed: &mut [usize],
) -> Vec<crate::table::ResultTable> {
    let Some(node) = graph.node(root) else {
        return Vec::new();
    };
    let tables = (0..spec.declaration.tables.len())
        .zip(handed.iter_mut())
        .map(|(which, done)| {
            let now = node.rows(which);
            let table = node.table(history, which, (*done).min(now));
            *done = now;
            table
        })
        .collect();
    graph.forget_handed(&[(root, handed)]);
    tables
}

fn run_payload(
    spec: &NativeSpec,
    history: &History,
    graph: &super::graph::Graph,
) -> Result<RunPayload> {
    Ok(RunPayload {
        spec: spec.described(),
        bars: history.len() as u64,
        last: last_bar(history),
        atr: history.atr_tail(),
        nodes: graph.states()?,
    })
}

/// An engine from a checkpoint made by [`save`]: the frame is checked first, then the
/// detectors are rebuilt from their parameters and given their states (no bar is stepped).
pub fn restore(bytes: &[u8]) -> Result<Engine> {
    let payload: Payload = unframe(ENGINE, bytes)?;
    let specs = payload
        .specs
        .into_iter()
        .map(|(name, params)| NativeSpec::parse(&name, params))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| corrupt(format!("its detectors: {e}")))?;
    let history = History::from_bars(payload.bars)?;
    Engine::restored(specs, history, &payload.nodes)
}

/// The payload behind a frame made by [`frame`] with `magic`, after every check.
pub(crate) fn unframe<T: DeserializeOwned>(magic: &[u8; 8], bytes: &[u8]) -> Result<T> {
    if bytes.get(..8) != Some(magic.as_slice()) {
        return Err(corrupt("not an ictcore checkpoint of this kind (no magic)"));
    }
    let format = u32::from_le_bytes(word(bytes, 8)?);
    if format != FORMAT {
        return Err(corrupt(format!(
            "checkpoint format {format}; this build reads format {FORMAT}"
        )));
    }
    let revision = i64::from_le_bytes(word(bytes, 12)?);
    if revision != super::REVISION {
        return Err(corrupt(format!(
            "made by detector revision {revision}; this build is revision {} (recompute)",
            super::REVISION
        )));
    }
    let length = u64::from_le_bytes(word(bytes, 20)?);
    let checksum = u64::from_le_bytes(word(bytes, 28)?);
    let body = &bytes[HEADER.min(bytes.len())..];
    if body.len() as u64 != length {
        return Err(corrupt(format!(
            "payload of {} bytes where the header says {length} (truncated or extended)",
            body.len()
        )));
    }
    if xxhash_rust::xxh3::xxh3_64(body) != checksum {
        return Err(corrupt("checksum mismatch (damaged)"));
    }
    postcard::from_bytes(body).map_err(|e| corrupt(format!("payload: {e}")))
}
