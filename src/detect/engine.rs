//! [`Engine`]: native detectors over one live series. `update` appends a bar and reports what
//! became known at its close; `update_last` replaces the newest bar (a forming candle revised
//! by a new tick): every detector undoes that bar and processes the new one, so the result
//! equals a batch run over the revised series.

use super::graph::Graph;
use super::history::{Bar, History};
use super::registry::{Detector, NativeSpec};
use crate::error::{IctError, Result};
use crate::table::ResultTable;

pub struct Engine {
    pub history: History<'static>,
    /// The requested detectors and their graph nodes (inputs they share step once).
    detectors: Vec<(NativeSpec, usize)>,
    graph: Graph,
}

impl Engine {
    /// An engine running `specs` (each detector at most once).
    pub fn new(specs: Vec<NativeSpec>) -> Result<Self> {
        for (i, s) in specs.iter().enumerate() {
            if specs[..i].iter().any(|o| o.name() == s.name()) {
                return Err(IctError::parameter(
                    "detectors",
                    format!("'{}' is given twice", s.name()),
                ));
            }
        }
        let (graph, ids) = Graph::new(&specs)?;
        Ok(Self {
            history: History::default(),
            detectors: specs.into_iter().zip(ids).collect(),
            graph,
        })
    }

    /// The requested detectors.
    pub fn specs(&self) -> impl Iterator<Item = &NativeSpec> {
        self.detectors.iter().map(|(s, _)| s)
    }

    /// Every graph node's state (see [`super::checkpoint`]).
    pub fn node_states(&self) -> Result<Vec<Vec<u8>>> {
        self.graph.states()
    }

    /// The engine's state as a checkpoint (see [`super::checkpoint`]).
    pub fn checkpoint(&self) -> Result<Vec<u8>> {
        super::checkpoint::save(self)
    }

    /// An engine restored from [`Engine::checkpoint`]'s bytes, without stepping a bar; a
    /// damaged, truncated, foreign or other-version checkpoint is `IctError::Corrupt`.
    pub fn from_checkpoint(bytes: &[u8]) -> Result<Self> {
        super::checkpoint::restore(bytes)
    }

    /// An engine of `specs` over `history`, its detectors given `states`.
    pub(crate) fn restored(
        specs: Vec<NativeSpec>,
        history: History<'static>,
        states: &[Vec<u8>],
    ) -> Result<Self> {
        let mut engine = Self::new(specs).map_err(|e| super::checkpoint::corrupt(e.to_string()))?;
        engine.graph.load(states)?;
        engine.history = history;
        Ok(engine)
    }

    /// Number of detectors stepped per bar: the requested ones and the inputs they read,
    /// each once.
    pub fn nodes(&self) -> usize {
        self.graph.len()
    }

    fn detector(&self, id: usize) -> Result<&dyn Detector> {
        self.graph.node(id).ok_or_else(|| IctError::Internal {
            context: "Engine".into(),
            message: format!("no graph node {id}"),
        })
    }

    /// (table name, rows) of every table, in detector order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut out = Vec::new();
        for (spec, id) in &self.detectors {
            let Some(d) = self.graph.node(*id) else {
                continue;
            };
            for (i, name) in spec.tables().enumerate() {
                out.push((name, d.rows(i)));
            }
        }
        out
    }

    /// Appends a bar; returns the row counts before it.
    pub fn update(&mut self, bar: Bar) -> Result<Vec<(&'static str, usize)>> {
        let before = self.counts();
        self.history.push(bar, self.history.len())?;
        self.step()?;
        Ok(before)
    }

    /// Replaces the newest bar (the first call on an empty engine appends); returns the row
    /// counts before the newest bar. On a bad bar the engine keeps the bar it had.
    pub fn update_last(&mut self, bar: Bar) -> Result<Vec<(&'static str, usize)>> {
        let Some(old) = self.history.last() else {
            return self.update(bar);
        };
        self.graph.undo();
        self.history.pop();
        let before = self.counts();
        let row = self.history.len();
        match self.history.push(bar, row) {
            Ok(()) => {
                self.step()?;
                Ok(before)
            }
            Err(e) => {
                self.history.push_unchecked(old);
                self.step()?;
                Err(e)
            }
        }
    }

    /// Appends the bars of parallel columns (time, [open, high, low, close, volume]); returns
    /// the row counts before the first. On a bad bar the bars before it stay applied and the
    /// error names its row in this batch.
    pub fn update_many(
        &mut self,
        time: &[i64],
        values: [&[f64]; 5],
    ) -> Result<Vec<(&'static str, usize)>> {
        let [o, h, l, c, v] = values;
        let names = ["open", "high", "low", "close", "volume"];
        let lens: Vec<(&str, usize)> = names
            .iter()
            .zip(values)
            .map(|(n, c)| (*n, c.len()))
            .collect();
        crate::candles::check_lengths("time", time.len(), &lens)?;
        let before = self.counts();
        for i in 0..time.len() {
            let bar = Bar {
                time: time[i],
                open: o[i],
                high: h[i],
                low: l[i],
                close: c[i],
                volume: v[i],
            };
            self.update(bar).map_err(|e| renumber(e, i))?;
        }
        Ok(before)
    }

    fn step(&mut self) -> Result<()> {
        self.graph.step(&self.history)
    }

    /// The table of that name from row `start` on.
    pub fn table_from(&self, name: &str, start: usize) -> Result<ResultTable> {
        for (spec, id) in &self.detectors {
            if let Some(which) = spec.tables().position(|t| t == name) {
                return Ok(self.detector(*id)?.table(&self.history, which, start));
            }
        }
        let known: Vec<&str> = self
            .detectors
            .iter()
            .flat_map(|(s, _)| s.tables())
            .collect();
        Err(IctError::parameter(
            "table",
            format!(
                "'{name}' is not made by this engine (its tables: {})",
                known.join(", ")
            ),
        ))
    }

    /// The whole table of that name.
    pub fn table(&self, name: &str) -> Result<ResultTable> {
        self.table_from(name, 0)
    }
}

/// An error from bar `i` of an [`Engine::update_many`] batch names that row of the batch.
fn renumber(e: IctError, i: usize) -> IctError {
    match e {
        IctError::NonFinite { column, value, .. } => IctError::NonFinite {
            column,
            row: i,
            value,
        },
        IctError::NotIncreasing {
            column,
            value,
            previous,
            relation,
            ..
        } => IctError::NotIncreasing {
            column,
            row: i,
            previous_row: i.saturating_sub(1),
            value,
            previous,
            relation,
        },
        other => other,
    }
}
