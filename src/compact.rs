//! Compact form of a row-per-candle table (the compat frames): most of their cells are an
//! "empty" value (NaN, or 0 for integers) or repeat the row before, so a portfolio's dense
//! frames would be gigabytes of nothing. [`compact`] stores each column the cheapest exact
//! way and records how in the table's metadata; [`expand`] (and Python's `expand`, the same
//! rules in numpy) gives back the dense columns bit for bit.
//!
//! Per column, the cheapest of:
//! - **dense**: as it is;
//! - **sparse**: the values of the rows where any sparse column of the table is not empty,
//!   under one shared index column `@rows` (every other row holds the empty value);
//! - **runs**: the first value of each run of equal values, with the runs' first rows in
//!   `@runs.<column>`.
//!
//! The metadata says which: `compact.rows` (the dense length), `compact.columns` (the
//! columns in order), `compact.sparse` and `compact.runs` (comma-separated names). Column
//! names never hold a comma (the compat frames' do not; other tables are not compacted).

use crate::table::{Column, Dtype, ResultTable};

/// Metadata keys of a compact table.
pub const ROWS: &str = "compact.rows";
pub const COLUMNS: &str = "compact.columns";
pub const SPARSE: &str = "compact.sparse";
pub const RUNS: &str = "compact.runs";
/// A held result whose compact form still takes more than this many bytes per row is held
/// as its digest instead ([`deferred`]) and recomputed on access (retracements: its current
/// retracement changes on every row).
pub const DEFER_BYTES_PER_ROW: usize = 8;
/// Metadata keys of a deferred table.
pub const DEFERRED_ROWS: &str = "deferred.rows";
pub const DEFERRED_DIGEST: &str = "deferred.digest";

/// Index columns.
pub const ROW_INDEX: &str = "@rows";
pub const RUN_PREFIX: &str = "@runs.";

/// A column's elements as bit patterns of their width, and its empty value's.
enum Bits<'a> {
    Wide(&'a [u64], u64),
    Narrow(&'a [u32], u32),
    Byte(&'a [u8], u8),
}

fn bits(c: &Column) -> Option<Bits<'_>> {
    let bytes = c.bytes();
    Some(match c.dtype {
        Dtype::F64 => Bits::Wide(bytemuck::try_cast_slice(bytes).ok()?, f64::NAN.to_bits()),
        Dtype::I64 => Bits::Wide(bytemuck::try_cast_slice(bytes).ok()?, 0),
        Dtype::F32 => Bits::Narrow(bytemuck::try_cast_slice(bytes).ok()?, f32::NAN.to_bits()),
        Dtype::I32 => Bits::Narrow(bytemuck::try_cast_slice(bytes).ok()?, 0),
        Dtype::U8 | Dtype::Bool => Bits::Byte(bytes, 0),
    })
}

/// What one pass over a column learns: how many rows are not empty, and where runs start.
struct Scan {
    filled: usize,
    starts: Vec<usize>,
}

fn scan_typed<T: Copy + PartialEq>(v: &[T], empty: T) -> Scan {
    let mut starts = Vec::new();
    let mut filled = 0;
    let mut previous = None;
    for (i, &x) in v.iter().enumerate() {
        filled += usize::from(x != empty);
        if previous != Some(x) {
            starts.push(i);
            previous = Some(x);
        }
    }
    Scan { filled, starts }
}

fn mark_typed<T: Copy + PartialEq>(v: &[T], empty: T, union: &mut [bool]) {
    for (u, &x) in union.iter_mut().zip(v) {
        *u |= x != empty;
    }
}

impl Bits<'_> {
    fn scan(&self) -> Scan {
        match self {
            Bits::Wide(v, e) => scan_typed(v, *e),
            Bits::Narrow(v, e) => scan_typed(v, *e),
            Bits::Byte(v, e) => scan_typed(v, *e),
        }
    }

    /// Marks the rows that are not empty.
    fn mark(&self, union: &mut [bool]) {
        match self {
            Bits::Wide(v, e) => mark_typed(v, *e, union),
            Bits::Narrow(v, e) => mark_typed(v, *e, union),
            Bits::Byte(v, e) => mark_typed(v, *e, union),
        }
    }
}

/// The elements at `rows` of `c`, as a column of the same name and dtype.
fn gather(c: &Column, rows: &[usize]) -> Column {
    let size = c.dtype.size();
    let bytes = c.bytes();
    let mut out = Vec::with_capacity(rows.len() * size);
    for &r in rows {
        out.extend_from_slice(&bytes[r * size..(r + 1) * size]);
    }
    // Infallible: whole elements of the column's own dtype.
    Column::from_bytes(c.name.clone(), c.dtype, &out).unwrap_or_else(|_| c.clone())
}

fn index_column(name: String, rows: &[usize], dense_len: usize) -> Column {
    if i32::try_from(dense_len).is_ok() {
        let v: Vec<i32> = rows.iter().map(|&r| r as i32).collect();
        Column::i32_vec(name, v)
    } else {
        Column::i64(name, rows.iter().map(|&r| r as i64).collect())
    }
}

/// The compact form of a row-per-candle table, or `None` when it would not be at most 80% of
/// the dense size (or the table is not one: columns of unequal length, metadata of its own).
pub fn compact(table: &ResultTable) -> Option<ResultTable> {
    let n = table.columns.first()?.len();
    if !table.meta.is_empty()
        || n < 64
        || table
            .columns
            .iter()
            .any(|c| c.len() != n || c.name.contains(',') || c.name.starts_with('@'))
    {
        return None;
    }
    let views: Vec<Bits<'_>> = table.columns.iter().map(bits).collect::<Option<_>>()?;
    let index_size = if i32::try_from(n).is_ok() { 4 } else { 8 };
    // Columns mostly empty share one row index: the rows where any of them is not empty.
    let scans: Vec<Scan> = views.iter().map(Bits::scan).collect();
    let mut union = vec![false; n];
    let mut candidate = Vec::with_capacity(views.len());
    for (v, scan) in views.iter().zip(&scans) {
        let sparse = scan.filled * 2 < n;
        if sparse {
            v.mark(&mut union);
        }
        candidate.push(sparse);
    }
    let rows: Vec<usize> = (0..n).filter(|&i| union[i]).collect();
    let mut columns = Vec::new();
    let (mut sparse_names, mut run_names, mut order) = (Vec::new(), Vec::new(), Vec::new());
    let mut any_sparse = false;
    for ((c, scan), sparse) in table.columns.iter().zip(&scans).zip(candidate) {
        let size = c.dtype.size();
        let starts = &scan.starts;
        let dense_cost = n * size;
        let run_cost = starts.len() * (size + index_size);
        let sparse_cost = if sparse {
            rows.len() * size
        } else {
            usize::MAX
        };
        order.push(c.name.as_str());
        if sparse_cost <= run_cost && sparse_cost < dense_cost {
            columns.push(gather(c, &rows));
            sparse_names.push(c.name.as_str());
            any_sparse = true;
        } else if run_cost < dense_cost {
            columns.push(gather(c, starts));
            columns.push(index_column(format!("{RUN_PREFIX}{}", c.name), starts, n));
            run_names.push(c.name.as_str());
        } else {
            columns.push(c.clone());
        }
    }
    if any_sparse {
        columns.push(index_column(ROW_INDEX.to_string(), &rows, n));
    }
    let out = ResultTable {
        columns,
        meta: vec![
            (ROWS.to_string(), n.to_string()),
            (COLUMNS.to_string(), order.join(",")),
            (SPARSE.to_string(), sparse_names.join(",")),
            (RUNS.to_string(), run_names.join(",")),
        ],
    };
    (out.data_bytes() * 5 <= table.data_bytes() * 4).then_some(out)
}

/// A digest of a table's columns (names, dtypes, lengths and bytes, in order): what a
/// deferred result is checked against when it is recomputed.
pub fn digest<'a>(columns: impl IntoIterator<Item = (&'a str, Dtype, &'a [u8])>) -> String {
    let mut record = Vec::new();
    for (name, dtype, bytes) in columns {
        record.extend_from_slice(&(name.len() as u64).to_le_bytes());
        record.extend_from_slice(name.as_bytes());
        record.push(dtype.code());
        record.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        record.extend_from_slice(&crate::cache::input_hash(bytes));
    }
    format!(
        "{:032x}",
        u128::from_le_bytes(crate::cache::input_hash(&record))
    )
}

/// A result held as its length and digest only (no columns): the caller recomputes it when
/// asked for and checks the digest, so a series changed since the run is an error, never a
/// different answer.
pub fn deferred(table: &ResultTable) -> ResultTable {
    let rows = table.columns.first().map_or(0, Column::len);
    let d = digest(
        table
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.dtype, c.bytes())),
    );
    ResultTable {
        columns: Vec::new(),
        meta: vec![
            (DEFERRED_ROWS.to_string(), rows.to_string()),
            (DEFERRED_DIGEST.to_string(), d),
        ],
    }
}

/// The dense table of a compact one (a table without compact metadata is returned as is).
pub fn expand(table: &ResultTable) -> Option<ResultTable> {
    let meta = |key: &str| {
        table
            .meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let Some(n) = meta(ROWS) else {
        return Some(table.clone());
    };
    let n: usize = n.parse().ok()?;
    let list = |key: &str| -> Vec<&str> {
        meta(key)
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .collect()
    };
    let (sparse, runs) = (list(SPARSE), list(RUNS));
    let find = |name: &str| table.columns.iter().find(|c| c.name == name);
    let index = |c: &Column| -> Option<Vec<usize>> {
        let b = c.bytes();
        match c.dtype {
            Dtype::I32 => Some(
                bytemuck::try_cast_slice::<u8, i32>(b)
                    .ok()?
                    .iter()
                    .map(|&r| usize::try_from(r).ok())
                    .collect::<Option<_>>()?,
            ),
            Dtype::I64 => Some(
                bytemuck::try_cast_slice::<u8, i64>(b)
                    .ok()?
                    .iter()
                    .map(|&r| usize::try_from(r).ok())
                    .collect::<Option<_>>()?,
            ),
            _ => None,
        }
    };
    let rows = match find(ROW_INDEX) {
        Some(c) => index(c)?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for name in list(COLUMNS) {
        let c = find(name)?;
        let size = c.dtype.size();
        let values = c.bytes();
        let empty: Vec<u8> = match c.dtype {
            Dtype::F64 => f64::NAN.to_le_bytes().to_vec(),
            Dtype::F32 => f32::NAN.to_le_bytes().to_vec(),
            _ => vec![0; size],
        };
        let mut dense = Vec::with_capacity(n * size);
        if sparse.contains(&name) {
            (0..n).for_each(|_| dense.extend_from_slice(&empty));
            for (k, &r) in rows.iter().enumerate() {
                dense
                    .get_mut(r * size..(r + 1) * size)?
                    .copy_from_slice(values.get(k * size..(k + 1) * size)?);
            }
        } else if runs.contains(&name) {
            let starts = index(find(&format!("{RUN_PREFIX}{name}"))?)?;
            for (k, &s) in starts.iter().enumerate() {
                let end = starts.get(k + 1).copied().unwrap_or(n);
                let v = values.get(k * size..(k + 1) * size)?;
                (s..end).for_each(|_| dense.extend_from_slice(v));
            }
        } else {
            dense.extend_from_slice(values);
        }
        if dense.len() != n * size {
            return None;
        }
        out.push(Column::from_bytes(name, c.dtype, &dense).ok()?);
    }
    Some(ResultTable::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// compact then expand gives the table back bit for bit, whatever its values (NaNs
        /// of any payload, repeats, gaps).
        #[test]
        fn compact_then_expand_is_the_identity(
            rows in 64usize..400,
            seed in any::<u64>(),
            density in 0u32..100,
        ) {
            let mut x = seed | 1;
            let mut next = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
            let mut f64s = Vec::new();
            let mut f32s = Vec::new();
            let mut i32s = Vec::new();
            let mut level = 0.0f64;
            for _ in 0..rows {
                let r = next();
                let event = (r % 100) < u64::from(density);
                f64s.push(if event { (r % 1000) as f64 / 7.0 } else if r % 97 == 0 { -f64::NAN } else { f64::NAN });
                if r % 13 == 0 { level = (r % 50) as f64; }
                f32s.push(level as f32);
                i32s.push(if event { 1 } else { 0 });
            }
            let table = ResultTable::new(vec![
                Column::f64("A", f64s),
                Column::f32_vec("B", f32s),
                Column::i32_vec("C", i32s),
            ]);
            if let Some(small) = compact(&table) {
                prop_assert!(small.data_bytes() * 5 <= table.data_bytes() * 4);
                prop_assert_eq!(expand(&small), Some(table));
            }
        }
    }

    #[test]
    fn sparse_events_and_long_runs_compact() {
        let n = 10_000;
        let events: Vec<f64> = (0..n)
            .map(|i| if i % 97 == 0 { 1.0 } else { f64::NAN })
            .collect();
        let level: Vec<f32> = (0..n).map(|i| (i / 1000) as f32).collect();
        let table = ResultTable::new(vec![Column::f64("E", events), Column::f32_vec("L", level)]);
        let small = compact(&table).unwrap();
        assert!(small.data_bytes() * 20 < table.data_bytes());
        assert_eq!(expand(&small).unwrap(), table);
    }
}
