//! What an import does with rows whose times the series already holds.
//!
//! MetaTrader 5 users export the same symbol again and again, each export overlapping the
//! last. Three answers, all atomic (an append, or a new file renamed over the old):
//! - `Error`: any overlap is refused (rows must follow the stored ones);
//! - `Merge`: overlapping rows must equal the stored ones value for value; the rest are
//!   added (appended when they all follow the stored rows, else the series is rewritten
//!   with them in place). A row that differs is an error naming it, and nothing changes;
//! - `Replace`: the file wins over its own time range: stored rows before its first time
//!   and after its last are kept, the ones between are the file's.

/// What to do with incoming rows at times the series already covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnOverlap {
    Error,
    #[default]
    Merge,
    Replace,
}

/// Rows as columns: time (ns UTC) and open, high, low, close, volume.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub time: &'a [i64],
    pub values: [&'a [f64]; 5],
}

/// Owned rows (a rewritten series).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OwnedRows {
    pub time: Vec<i64>,
    pub values: [Vec<f64>; 5],
}

impl OwnedRows {
    fn with_capacity(n: usize) -> Self {
        Self {
            time: Vec::with_capacity(n),
            values: std::array::from_fn(|_| Vec::with_capacity(n)),
        }
    }

    fn push(&mut self, rows: &Rows<'_>, at: usize) {
        self.time.push(rows.time[at]);
        for (column, values) in self.values.iter_mut().zip(rows.values) {
            column.push(values[at]);
        }
    }

    fn extend(&mut self, rows: &Rows<'_>, range: std::ops::Range<usize>) {
        self.time.extend_from_slice(&rows.time[range.clone()]);
        for (column, values) in self.values.iter_mut().zip(rows.values) {
            column.extend_from_slice(&values[range.clone()]);
        }
    }
}

/// How to store an import into a series that holds rows already.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Append the incoming rows from this index on (all before it equal stored rows).
    Append { from: usize },
    /// Write the series anew with these rows.
    Rewrite(OwnedRows),
}

/// An incoming row that differs from the stored row at the same time.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Index of the incoming row.
    pub row: usize,
    pub time: i64,
    pub stored: [f64; 5],
    pub incoming: [f64; 5],
}

fn row(rows: &Rows<'_>, at: usize) -> [f64; 5] {
    rows.values.map(|v| v[at])
}

/// The plan for `Merge` or `Replace` (for `Error` the caller appends and lets the writer
/// refuse an overlap). Both inputs are strictly increasing in time.
pub fn plan(stored: &Rows<'_>, incoming: &Rows<'_>, mode: OnOverlap) -> Result<Plan, Conflict> {
    let last_stored = stored.time.last().copied();
    // Incoming rows before this index are at or before the stored series' end.
    let after = incoming
        .time
        .partition_point(|&t| last_stored.is_some_and(|last| t <= last));
    match mode {
        OnOverlap::Error | OnOverlap::Merge => merge(stored, incoming, after),
        OnOverlap::Replace => Ok(replace(stored, incoming, after)),
    }
}

fn merge(stored: &Rows<'_>, incoming: &Rows<'_>, after: usize) -> Result<Plan, Conflict> {
    // Every overlapping incoming row must equal its stored row; remember whether some fill
    // times the series does not hold (then the series is rewritten).
    let mut inserts = false;
    let mut at = 0;
    for i in 0..after {
        let t = incoming.time[i];
        at += stored.time[at..].partition_point(|&s| s < t);
        if stored.time.get(at) == Some(&t) {
            let (s, n) = (row(stored, at), row(incoming, i));
            // Bitwise: a stored -0.0 against an incoming 0.0 is a different file.
            if s.iter().zip(&n).any(|(a, b)| a.to_bits() != b.to_bits()) {
                return Err(Conflict {
                    row: i,
                    time: t,
                    stored: s,
                    incoming: n,
                });
            }
        } else {
            inserts = true;
        }
    }
    if !inserts {
        return Ok(Plan::Append { from: after });
    }
    let mut out = OwnedRows::with_capacity(stored.time.len() + incoming.time.len() - after);
    let (mut s, mut i) = (0, 0);
    while s < stored.time.len() || i < incoming.time.len() {
        match (stored.time.get(s), incoming.time.get(i)) {
            (Some(a), Some(b)) if a == b => {
                out.push(stored, s);
                s += 1;
                i += 1;
            }
            (Some(a), Some(b)) if a < b => {
                out.push(stored, s);
                s += 1;
            }
            (Some(_), None) => {
                out.push(stored, s);
                s += 1;
            }
            _ => {
                out.push(incoming, i);
                i += 1;
            }
        }
    }
    Ok(Plan::Rewrite(out))
}

fn replace(stored: &Rows<'_>, incoming: &Rows<'_>, after: usize) -> Plan {
    let (Some(&first), Some(&last)) = (incoming.time.first(), incoming.time.last()) else {
        return Plan::Append { from: 0 };
    };
    if after == 0 {
        // Nothing overlaps and nothing precedes the stored end: a plain append.
        return Plan::Append { from: 0 };
    }
    let before = stored.time.partition_point(|&t| t < first);
    let beyond = stored.time.partition_point(|&t| t <= last);
    let mut out =
        OwnedRows::with_capacity(before + incoming.time.len() + stored.time.len() - beyond);
    out.extend(stored, 0..before);
    out.extend(incoming, 0..incoming.time.len());
    out.extend(stored, beyond..stored.time.len());
    Plan::Rewrite(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn owned(time: &[i64], tag: f64) -> OwnedRows {
        OwnedRows {
            time: time.to_vec(),
            values: std::array::from_fn(|c| {
                time.iter().map(|&t| t as f64 + tag + c as f64).collect()
            }),
        }
    }

    fn view(rows: &OwnedRows) -> Rows<'_> {
        Rows {
            time: &rows.time,
            values: std::array::from_fn(|c| rows.values[c].as_slice()),
        }
    }

    #[test]
    fn merge_appends_what_follows_and_accepts_equal_rows() {
        let stored = owned(&[1, 2, 3], 0.0);
        let incoming = owned(&[2, 3, 4, 5], 0.0);
        assert_eq!(
            plan(&view(&stored), &view(&incoming), OnOverlap::Merge),
            Ok(Plan::Append { from: 2 })
        );
        // Entirely inside: nothing to add.
        let inside = owned(&[1, 2], 0.0);
        assert_eq!(
            plan(&view(&stored), &view(&inside), OnOverlap::Merge),
            Ok(Plan::Append { from: 2 })
        );
    }

    #[test]
    fn merge_refuses_a_differing_row_naming_it() {
        let stored = owned(&[1, 2, 3], 0.0);
        let mut incoming = owned(&[2, 3, 4], 0.0);
        incoming.values[3][1] += 0.5;
        let err = plan(&view(&stored), &view(&incoming), OnOverlap::Merge);
        assert_eq!(
            err,
            Err(Conflict {
                row: 1,
                time: 3,
                stored: [3.0, 4.0, 5.0, 6.0, 7.0],
                incoming: [3.0, 4.0, 5.0, 6.5, 7.0],
            })
        );
    }

    #[test]
    fn merge_fills_gaps_and_prepends_by_rewriting() {
        let stored = owned(&[2, 4, 6], 0.0);
        let incoming = owned(&[1, 3, 4, 7], 0.0);
        let Ok(Plan::Rewrite(out)) = plan(&view(&stored), &view(&incoming), OnOverlap::Merge)
        else {
            panic!("expected a rewrite");
        };
        assert_eq!(out, owned(&[1, 2, 3, 4, 6, 7], 0.0));
    }

    #[test]
    fn replace_takes_the_file_over_its_range() {
        let stored = owned(&[1, 2, 3, 4, 5], 0.0);
        let incoming = owned(&[2, 3, 4], 10.0);
        let Ok(Plan::Rewrite(out)) = plan(&view(&stored), &view(&incoming), OnOverlap::Replace)
        else {
            panic!("expected a rewrite");
        };
        assert_eq!(out.time, vec![1, 2, 3, 4, 5]);
        assert_eq!(out.values[0], vec![1.0, 12.0, 13.0, 14.0, 5.0]);
        // After the stored end: an append.
        let later = owned(&[6, 7], 10.0);
        assert_eq!(
            plan(&view(&stored), &view(&later), OnOverlap::Replace),
            Ok(Plan::Append { from: 0 })
        );
    }

    proptest! {
        /// A merge of any subset of a series' rows into any other subset is their union.
        #[test]
        fn merge_is_the_union(
            a in proptest::collection::btree_set(0i64..60, 0..40),
            b in proptest::collection::btree_set(0i64..60, 1..40),
        ) {
            let a: Vec<i64> = a.into_iter().collect();
            let b: Vec<i64> = b.into_iter().collect();
            let stored = owned(&a, 0.0);
            let incoming = owned(&b, 0.0);
            let mut union: Vec<i64> = a.iter().chain(&b).copied().collect();
            union.sort_unstable();
            union.dedup();
            let got = match plan(&view(&stored), &view(&incoming), OnOverlap::Merge) {
                Ok(Plan::Append { from }) => {
                    let mut t = a.clone();
                    t.extend_from_slice(&b[from..]);
                    owned(&t, 0.0)
                }
                Ok(Plan::Rewrite(out)) => out,
                Err(c) => return Err(TestCaseError::fail(format!("{c:?}"))),
            };
            prop_assert_eq!(got, owned(&union, 0.0));
        }
    }
}
