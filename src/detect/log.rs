//! [`Log`]: an append-only table a detector only writes (zone transitions, liquidity
//! sweeps), whose oldest rows a live session may drop once it has reported them.
//!
//! Rows keep their positions: row `i` is the `i`-th ever pushed, however many were dropped
//! before it, so tables built from a position and ids taken from positions stay what a batch
//! run gives. Only rows no detector reads again may be dropped (a live session drops rows of
//! detectors no other detector reads, after reporting them); asking for dropped rows is a
//! bug, and gets the oldest rows kept.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log<T> {
    /// Rows dropped from the front.
    base: usize,
    rows: Vec<T>,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self {
            base: 0,
            rows: Vec::new(),
        }
    }
}

impl<T> Log<T> {
    /// Rows ever pushed (the position of the next one).
    pub fn len(&self) -> usize {
        self.base + self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, row: T) {
        self.rows.push(row);
    }

    pub fn reserve(&mut self, more: usize) {
        self.rows.reserve(more);
    }

    /// The first position still kept.
    pub fn first_kept(&self) -> usize {
        self.base
    }

    fn offset(&self, position: usize) -> usize {
        debug_assert!(position >= self.base, "row {position} was dropped");
        position.saturating_sub(self.base).min(self.rows.len())
    }

    /// Rows from `position` on (to the newest).
    pub fn from(&self, position: usize) -> &[T] {
        &self.rows[self.offset(position)..]
    }

    /// The rows kept, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.rows.iter()
    }

    /// Keeps the rows before `position` (undoing a bar).
    pub fn truncate(&mut self, position: usize) {
        let at = self.offset(position);
        self.rows.truncate(at);
    }

    /// Removes and yields the rows from `position` on (undoing a bar).
    pub fn drain_from(&mut self, position: usize) -> std::vec::Drain<'_, T> {
        let at = self.offset(position);
        self.rows.drain(at..)
    }

    /// Drops the rows before `position` (never the newest bar's, which an undo may need:
    /// callers pass what they reported, which is all before it).
    pub fn forget_before(&mut self, position: usize) {
        let drop = position.saturating_sub(self.base).min(self.rows.len());
        if drop > 0 {
            self.rows.drain(..drop);
            self.rows.shrink_to_fit();
            self.base += drop;
        }
    }
}

impl<'a, T> IntoIterator for &'a Log<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_dropping_the_oldest_rows() {
        let mut log = Log::default();
        for i in 0..10 {
            log.push(i);
        }
        log.forget_before(4);
        assert_eq!((log.len(), log.first_kept()), (10, 4));
        assert_eq!(log.from(7), &[7, 8, 9]);
        log.truncate(8);
        assert_eq!(log.from(4), &[4, 5, 6, 7]);
        assert_eq!(log.drain_from(6).collect::<Vec<_>>(), vec![6, 7]);
        log.push(6);
        assert_eq!(
            (log.len(), log.iter().copied().collect::<Vec<_>>()),
            (7, vec![4, 5, 6])
        );
        log.forget_before(100);
        assert_eq!((log.len(), log.from(7)), (7, &[][..]));
    }
}
