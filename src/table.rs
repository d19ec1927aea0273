//! The value the cache holds: a detector's result as named, typed columns of raw
//! little-endian bytes. Any detector result (compat frames, native event tables) is a set of
//! numpy-compatible columns, so one type serves them all and converts to numpy without copies.

use crate::error::{IctError, Result};

/// Element type of a column (what numpy calls its dtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    F64,
    F32,
    I64,
    I32,
    U8,
    Bool,
}

impl Dtype {
    /// Every dtype, in code order.
    pub const ALL: [Dtype; 6] = [
        Dtype::F64,
        Dtype::F32,
        Dtype::I64,
        Dtype::I32,
        Dtype::U8,
        Dtype::Bool,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// The stable code written into keys and entry files.
    pub fn code(self) -> u8 {
        match self {
            Dtype::F64 => 1,
            Dtype::F32 => 2,
            Dtype::I64 => 3,
            Dtype::I32 => 4,
            Dtype::U8 => 5,
            Dtype::Bool => 6,
        }
    }

    /// The dtype of a code, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == code)
    }

    /// numpy's name for it (`float64`, `int32`, `bool`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "float64",
            Dtype::F32 => "float32",
            Dtype::I64 => "int64",
            Dtype::I32 => "int32",
            Dtype::U8 => "uint8",
            Dtype::Bool => "bool",
        }
    }

    /// The dtype of a numpy name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// One named column. Stored in `u64` words so the bytes are 8-byte aligned (numpy views of
/// float64 columns then need no copy and no unaligned access); a 4-byte column a detector
/// hands over as a vector keeps that vector (4-byte aligned: enough for its elements).
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub dtype: Dtype,
    storage: Storage,
    byte_len: usize,
}

#[derive(Debug, Clone)]
enum Storage {
    Words(Vec<u64>),
    Halves(Vec<u32>),
}

impl PartialEq for Column {
    /// Columns are equal when their name, dtype and bytes are (however they are stored).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.dtype == other.dtype && self.bytes() == other.bytes()
    }
}

impl Eq for Column {}

impl Column {
    /// A column from its raw little-endian bytes (a whole number of elements).
    pub fn from_bytes(name: impl Into<String>, dtype: Dtype, bytes: &[u8]) -> Result<Self> {
        let name = name.into();
        whole_elements(&name, dtype, bytes.len())?;
        Ok(Self::copied(name, dtype, bytes))
    }

    /// A column of `byte_len` zero bytes to be filled through [`Column::bytes_mut`].
    pub fn zeroed(name: impl Into<String>, dtype: Dtype, byte_len: usize) -> Result<Self> {
        let name = name.into();
        whole_elements(&name, dtype, byte_len)?;
        // Fallible: a length read from a damaged file must be an error, never an abort.
        let mut words = Vec::new();
        words.try_reserve_exact(byte_len.div_ceil(8)).map_err(|e| {
            IctError::parameter(
                "column",
                format!("'{name}': cannot allocate {byte_len} bytes: {e}"),
            )
        })?;
        words.resize(byte_len.div_ceil(8), 0u64);
        Ok(Self {
            name,
            dtype,
            storage: Storage::Words(words),
            byte_len,
        })
    }

    /// The raw bytes, for filling a [`Column::zeroed`] column.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let bytes: &mut [u8] = match &mut self.storage {
            Storage::Words(w) => bytemuck::cast_slice_mut(w),
            Storage::Halves(h) => bytemuck::cast_slice_mut(h),
        };
        &mut bytes[..self.byte_len]
    }

    fn words(name: impl Into<String>, dtype: Dtype, words: Vec<u64>) -> Self {
        let byte_len = words.len() * 8;
        Self {
            name: name.into(),
            dtype,
            storage: Storage::Words(words),
            byte_len,
        }
    }

    fn halves(name: impl Into<String>, dtype: Dtype, halves: Vec<u32>) -> Self {
        let byte_len = halves.len() * 4;
        Self {
            name: name.into(),
            dtype,
            storage: Storage::Halves(halves),
            byte_len,
        }
    }

    /// A float64 column, without copying.
    pub fn f64(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self::words(name, Dtype::F64, bytemuck::allocation::cast_vec(values))
    }

    /// An int64 column, without copying.
    pub fn i64(name: impl Into<String>, values: Vec<i64>) -> Self {
        Self::words(name, Dtype::I64, bytemuck::allocation::cast_vec(values))
    }

    /// A float32 column, without copying.
    pub fn f32_vec(name: impl Into<String>, values: Vec<f32>) -> Self {
        Self::halves(name, Dtype::F32, bytemuck::allocation::cast_vec(values))
    }

    /// An int32 column, without copying.
    pub fn i32_vec(name: impl Into<String>, values: Vec<i32>) -> Self {
        Self::halves(name, Dtype::I32, bytemuck::allocation::cast_vec(values))
    }

    /// A uint8 column (copied): bytes such as a resumable run's state.
    pub fn u8(name: impl Into<String>, values: &[u8]) -> Self {
        Self::copied(name.into(), Dtype::U8, values)
    }

    /// A float32 column (copied).
    pub fn f32(name: impl Into<String>, values: &[f32]) -> Self {
        Self::copied(name.into(), Dtype::F32, bytemuck::cast_slice(values))
    }

    /// An int32 column (copied).
    pub fn i32(name: impl Into<String>, values: &[i32]) -> Self {
        Self::copied(name.into(), Dtype::I32, bytemuck::cast_slice(values))
    }

    fn copied(name: String, dtype: Dtype, bytes: &[u8]) -> Self {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self {
            name,
            dtype,
            storage: Storage::Words(words),
            byte_len: bytes.len(),
        }
    }

    /// The raw little-endian bytes.
    pub fn bytes(&self) -> &[u8] {
        let bytes: &[u8] = match &self.storage {
            Storage::Words(w) => bytemuck::cast_slice(w),
            Storage::Halves(h) => bytemuck::cast_slice(h),
        };
        &bytes[..self.byte_len]
    }

    /// The values as a vector of `T` (the column's element type): without copying when the
    /// column was built from such a vector, else copied.
    pub fn into_vec<T: bytemuck::Pod>(self) -> Vec<T> {
        let n = self.len();
        let same_size = std::mem::size_of::<T>() == self.dtype.size();
        match self.storage {
            Storage::Words(w) if same_size && std::mem::size_of::<T>() == 8 => {
                let mut v: Vec<T> = bytemuck::allocation::try_cast_vec(w)
                    .unwrap_or_else(|(_, w)| bytemuck::pod_collect_to_vec(&w));
                v.truncate(n);
                v
            }
            Storage::Halves(h) if same_size && std::mem::size_of::<T>() == 4 => {
                let mut v: Vec<T> = bytemuck::allocation::try_cast_vec(h)
                    .unwrap_or_else(|(_, h)| bytemuck::pod_collect_to_vec(&h));
                v.truncate(n);
                v
            }
            storage => {
                let bytes: &[u8] = match &storage {
                    Storage::Words(w) => bytemuck::cast_slice(w),
                    Storage::Halves(h) => bytemuck::cast_slice(h),
                };
                let whole =
                    (self.byte_len / std::mem::size_of::<T>().max(1)) * std::mem::size_of::<T>();
                bytemuck::pod_collect_to_vec(&bytes[..whole])
            }
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.byte_len / self.dtype.size()
    }

    /// Whether the column has no elements.
    pub fn is_empty(&self) -> bool {
        self.byte_len == 0
    }
}

/// Refuses a byte length that is not a whole number of `dtype` elements.
fn whole_elements(name: &str, dtype: Dtype, byte_len: usize) -> Result<()> {
    if byte_len.is_multiple_of(dtype.size()) {
        return Ok(());
    }
    Err(IctError::parameter(
        "column",
        format!(
            "'{name}': {byte_len} bytes is not a whole number of {} elements",
            dtype.name()
        ),
    ))
}

/// A detector result: columns in the detector's order, and what a reader needs to interpret
/// them (a session table's window names, which its `window` codes index).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultTable {
    pub columns: Vec<Column>,
    /// (key, value) pairs that travel with the table (through the pool and the cache).
    pub meta: Vec<(String, String)>,
}

impl ResultTable {
    /// A table of these columns, without metadata.
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            meta: Vec::new(),
        }
    }

    /// Bytes of column data (what the memory tier weighs, what compression is measured on).
    pub fn data_bytes(&self) -> usize {
        self.columns.iter().map(|c| c.byte_len).sum()
    }

    /// The column of a name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The rows of `parts` one after the other, column by column (a log's rows kept in
    /// pieces, oldest first), with `meta`. The parts must have the same columns, in the
    /// same order with the same dtypes: anything else is not one table
    /// (`IctError::Corrupt` naming `table`).
    pub fn concat(
        parts: &[&[Column]],
        meta: Vec<(String, String)>,
        table: &str,
    ) -> crate::Result<ResultTable> {
        let Some((first, rest)) = parts.split_first() else {
            return Ok(ResultTable::default());
        };
        let differ = rest.iter().any(|part| {
            part.len() != first.len()
                || part
                    .iter()
                    .zip(first.iter())
                    .any(|(a, b)| a.name != b.name || a.dtype != b.dtype)
        });
        if differ {
            return Err(crate::IctError::Corrupt {
                path: table.into(),
                detail: "pieces of a table with different columns".into(),
            });
        }
        let columns = first
            .iter()
            .enumerate()
            .map(|(i, head)| {
                let pieces = parts.iter().filter_map(|p| p.get(i));
                let mut bytes = Vec::with_capacity(pieces.clone().map(|c| c.byte_len).sum());
                for piece in pieces {
                    bytes.extend_from_slice(piece.bytes());
                }
                Column::from_bytes(head.name.clone(), head.dtype, &bytes)
            })
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(ResultTable { columns, meta })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_their_bytes() {
        let c = Column::f64("x", vec![1.5, -0.0, f64::NAN]);
        assert_eq!(c.len(), 3);
        assert_eq!(&c.bytes()[..8], &1.5f64.to_le_bytes());
        let back = Column::from_bytes("x", Dtype::F64, c.bytes()).unwrap();
        assert_eq!(back, c);
        let odd =
            Column::from_bytes("b", Dtype::I32, &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]).unwrap();
        assert_eq!((odd.len(), odd.bytes().len()), (3, 12));
        assert!(Column::from_bytes("bad", Dtype::I64, &[0; 12]).is_err());
        for d in Dtype::ALL {
            assert_eq!(Dtype::from_code(d.code()), Some(d));
            assert_eq!(Dtype::from_name(d.name()), Some(d));
        }
    }
}
