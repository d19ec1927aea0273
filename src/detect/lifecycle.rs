//! Zone lifecycles: the states a zone moves through and the log of its transitions, and
//! [`ActiveIndex`], which answers "which zones are alive at bar t".
//!
//! A zone's states only move forward: formed -> touched -> mean threshold (CE) reached ->
//! filled -> inverted (flipped: it now acts from the other side) -> dead. Several may happen
//! on one bar (a wide bar can touch, reach the CE and fill at once); each is logged with that
//! bar. Nothing is erased: the zone table keeps every zone, the log keeps every transition.

/// A zone's state after a transition.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[repr(i32)]
pub enum State {
    Formed = 0,
    Touched = 1,
    MeanThreshold = 2,
    Filled = 3,
    Inverted = 4,
    Dead = 5,
}

impl State {
    /// The state after this one.
    pub fn next(self) -> Option<State> {
        Some(match self {
            State::Formed => State::Touched,
            State::Touched => State::MeanThreshold,
            State::MeanThreshold => State::Filled,
            State::Filled => State::Inverted,
            State::Inverted => State::Dead,
            State::Dead => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Formed => "formed",
            State::Touched => "touched",
            State::MeanThreshold => "mean_threshold",
            State::Filled => "filled",
            State::Inverted => "inverted",
            State::Dead => "dead",
        }
    }
}

/// One row of the transition log: zone `id` entered `state` at the close of `bar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    pub id: usize,
    pub state: State,
    pub bar: usize,
}

/// Intervals `[start, end)` of bars during which each zone is alive, for stabbing queries in
/// O(log n + k) (k = zones reported). Zones must be given in order of `start` (as detectors
/// emit them); a segment tree keeps the largest `end` of each node, so a query visits only
/// subtrees holding a zone still alive.
#[derive(Debug, Clone)]
pub struct ActiveIndex {
    starts: Vec<i64>,
    ends: Vec<i64>,
    /// Max `end` per node; leaves at `size..size + n`.
    tree: Vec<i64>,
    size: usize,
}

impl ActiveIndex {
    /// `starts` must be non-decreasing; `end == i64::MAX` means still alive.
    pub fn new(starts: Vec<i64>, ends: Vec<i64>) -> Result<Self, String> {
        if starts.len() != ends.len() {
            return Err(format!("{} starts but {} ends", starts.len(), ends.len()));
        }
        if let Some(i) = (1..starts.len()).find(|&i| starts[i] < starts[i - 1]) {
            return Err(format!("starts must be non-decreasing (row {i})"));
        }
        let size = starts.len().next_power_of_two().max(1);
        let mut tree = vec![i64::MIN; 2 * size];
        tree[size..size + ends.len()].copy_from_slice(&ends);
        for node in (1..size).rev() {
            tree[node] = tree[2 * node].max(tree[2 * node + 1]);
        }
        Ok(Self {
            starts,
            ends,
            tree,
            size,
        })
    }

    /// Rows alive at bar `t` (`start <= t < end`), in row order.
    pub fn query(&self, t: i64) -> Vec<usize> {
        // Rows [0, upto) have started by t.
        let upto = self.starts.partition_point(|&s| s <= t);
        let mut out = Vec::new();
        if upto > 0 {
            self.collect(1, 0, self.size, upto, t, &mut out);
        }
        out
    }

    fn collect(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        upto: usize,
        t: i64,
        out: &mut Vec<usize>,
    ) {
        if lo >= upto || self.tree[node] <= t {
            return;
        }
        if hi - lo == 1 {
            out.push(lo);
            return;
        }
        let mid = (lo + hi) / 2;
        self.collect(2 * node, lo, mid, upto, t, out);
        self.collect(2 * node + 1, mid, hi, upto, t, out);
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The interval of row `i`.
    pub fn interval(&self, i: usize) -> Option<(i64, i64)> {
        Some((*self.starts.get(i)?, *self.ends.get(i)?))
    }
}
