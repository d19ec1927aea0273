//! [`Log`]: an append-only table (zones, zone transitions, liquidity sweeps) whose oldest
//! rows a live session may drop once it has reported them, keeping the ones still in use
//! (open zones) aside.
//!
//! Rows keep their positions: row `i` is the `i`-th ever pushed, however many were dropped
//! before it, so tables built from a position and ids taken from positions stay what a batch
//! run gives, and a kept row is still found by its position. Only rows no detector reads
//! again may be dropped (a live session drops rows of detectors no other detector reads,
//! after reporting them); asking for dropped rows is a bug.

use serde::{Deserialize, Serialize};

/// Rows of room a log keeps when it drops rows (more is given back only when mostly unused).
const ROOM_KEPT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log<T> {
    /// Rows dropped from the front (some of them kept aside in `kept`).
    base: usize,
    rows: Vec<T>,
    /// Rows before `base` still in use, by position (ascending).
    kept: Vec<(usize, T)>,
    /// `kept`'s length when it was last checked for rows no longer in use: it is checked
    /// again once it has doubled, so a live cycle does not walk every open zone.
    kept_checked: usize,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self {
            base: 0,
            rows: Vec::new(),
            kept: Vec::new(),
            kept_checked: 0,
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

    /// The rows from the first position kept on, oldest first (not the rows kept aside).
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.rows.iter()
    }

    /// Every row, for a log nothing was dropped from (those of detectors other detectors
    /// read, which are never dropped).
    pub fn as_slice(&self) -> &[T] {
        debug_assert!(self.base == 0, "rows were dropped");
        &self.rows
    }

    /// The index in `kept` of the row at `position` (past the end when it is not kept).
    fn kept_at(&self, position: usize) -> usize {
        self.kept
            .binary_search_by_key(&position, |(p, _)| *p)
            .unwrap_or(usize::MAX)
    }

    /// The row at `position`, if it is kept.
    pub fn get(&self, position: usize) -> Option<&T> {
        match position.checked_sub(self.base) {
            Some(at) => self.rows.get(at),
            None => self.kept.get(self.kept_at(position)).map(|(_, row)| row),
        }
    }

    /// The row at `position`, to change, if it is kept.
    pub fn get_mut(&mut self, position: usize) -> Option<&mut T> {
        match position.checked_sub(self.base) {
            Some(at) => self.rows.get_mut(at),
            None => {
                let i = self.kept_at(position);
                self.kept.get_mut(i).map(|(_, row)| row)
            }
        }
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

    /// Drops the rows before `position` (callers pass what they reported; a live session
    /// never undoes a bar).
    pub fn forget_before(&mut self, position: usize) {
        self.forget_keeping(position, |_| false);
    }

    /// Drops the rows before `position` except those `keep` holds on to (open zones), which
    /// stay found by their position; kept rows `keep` no longer wants are dropped too, once
    /// the rows kept have doubled since they were last checked (amortised: a few rows per
    /// call, where walking them all each time cost a live cycle more than its bars).
    pub fn forget_keeping(&mut self, position: usize, keep: impl Fn(&T) -> bool) {
        let drop = position.saturating_sub(self.base).min(self.rows.len());
        if self.kept.len() > 2 * self.kept_checked + 64 {
            self.kept.retain(|(_, row)| keep(row));
            self.kept_checked = self.kept.len();
        }
        if drop > 0 {
            let base = self.base;
            self.kept.extend(
                self.rows
                    .drain(..drop)
                    .enumerate()
                    .filter(|(_, row)| keep(row))
                    .map(|(i, row)| (base + i, row)),
            );
            self.base += drop;
        }
        // Give back room only when it is large and mostly unused (a first poll's whole
        // history), not on every poll (a live cycle adds a few rows and drops them again).
        if self.rows.capacity() > ROOM_KEPT && self.rows.capacity() > 4 * self.rows.len() {
            self.rows.shrink_to(self.rows.len().max(ROOM_KEPT / 2));
        }
        if self.kept.capacity() > ROOM_KEPT && self.kept.capacity() > 4 * self.kept.len() {
            self.kept.shrink_to(self.kept.len().max(ROOM_KEPT / 2));
        }
    }
}

impl<T> std::ops::Index<usize> for Log<T> {
    type Output = T;

    /// The row at `position`, which must be kept (out of bounds otherwise, as a vector's).
    fn index(&self, position: usize) -> &T {
        match position.checked_sub(self.base) {
            Some(at) => &self.rows[at],
            None => &self.kept[self.kept_at(position)].1,
        }
    }
}

impl<T> std::ops::IndexMut<usize> for Log<T> {
    fn index_mut(&mut self, position: usize) -> &mut T {
        match position.checked_sub(self.base) {
            Some(at) => &mut self.rows[at],
            None => {
                let i = self.kept_at(position);
                &mut self.kept[i].1
            }
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

    #[test]
    fn rows_kept_aside_are_found_by_position() {
        let mut log = Log::default();
        for i in 0..10 {
            log.push(i);
        }
        log.forget_keeping(6, |&v| v % 3 == 0); // keeps 0 and 3 of 0..6
        assert_eq!(
            (log.get(0), log.get(1), log.get(3), log.get(6)),
            (Some(&0), None, Some(&3), Some(&6))
        );
        log[3] = 30;
        // 30 is done with, but the few rows kept are not checked again until they double.
        log.forget_keeping(8, |&v| v != 30 && v % 3 == 0);
        assert_eq!(
            (log.get(3), log.get(6), log[0], log.get(7)),
            (Some(&30), Some(&6), 0, None)
        );
        assert_eq!((log.len(), log.from(8)), (10, &[8, 9][..]));
        // Rows no longer wanted go once the kept rows have doubled since the last check.
        let mut many = Log::default();
        for i in 0..1000 {
            many.push(i);
        }
        many.forget_keeping(100, |_| true);
        assert_eq!(many.kept.len(), 100);
        many.forget_keeping(200, |&v| v >= 150);
        assert_eq!(
            (many.kept.len(), many.get(10), many.get(160)),
            (50, None, Some(&160))
        );
    }
}
