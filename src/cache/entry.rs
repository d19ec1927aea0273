//! One disk entry (`storage-and-cache.md` §2.6), self-validating, little-endian:
//!
//! | field | |
//! |---|---|
//! | magic | `89 'I' 'C' 'A' 0D 0A 1A 0A` |
//! | format version | u16 ([`FORMAT_VERSION`]); any other version is a miss |
//! | key | 16 bytes: the entry must be the one asked for |
//! | created, compute time | i64 ns since the epoch, u64 ns (diagnostics, cost-aware sweeps) |
//! | detector id, ictcore version | u16 length + UTF-8 each |
//! | columns | u32 count, then per column: u16 name length + name, dtype code u8, filter u8, raw length u64, compressed length u64 |
//! | table metadata | u16 count, then per item: u16 length + key, u16 length + value (UTF-8) |
//! | checksums | xxh3-64 of the compressed payload, xxh3-64 of the decompressed payload |
//! | header checksum | xxh3-64 of every byte above |
//! | payload | the compressed columns, back to back |
//!
//! Reading checks, in order: length, magic, version, header checksum, key, that the column
//! lengths add up to the file exactly, the compressed checksum (before decompressing), each
//! column's exact decompressed length, and the decompressed checksum. Any failure is an
//! [`EntryError`]: the caller counts it, quarantines the file and recomputes.

use super::codec::{self, Filter};
use super::key::Key;
use crate::table::{Column, Dtype, ResultTable};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// First bytes of every entry.
pub const MAGIC: [u8; 8] = [0x89, b'I', b'C', b'A', b'\r', b'\n', 0x1A, b'\n'];
/// Entry format written and read by this code.
pub use super::ENTRY_FORMAT as FORMAT_VERSION;
/// No column is longer than this (a guard before allocating for a damaged entry; the lengths
/// are also checked against what the bytes present can decompress to).
const MAX_COLUMN_BYTES: u64 = 1 << 35;

/// What the entry says about itself, besides the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    pub detector: String,
    pub created_ns: i64,
    pub compute_ns: u64,
}

/// Why an entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EntryError(pub String);

fn bad(message: impl Into<String>) -> EntryError {
    EntryError(message.into())
}

/// An encoded entry and its sizes.
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// Column bytes before and after compression.
    pub raw_bytes: u64,
    pub compressed_bytes: u64,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Encodes a table as an entry for `key`, its columns compressed.
pub fn encode(key: &Key, table: &ResultTable, meta: &EntryMeta) -> Encoded {
    encode_with(key, table, meta, true)
}

/// Encodes a table as an entry for `key`; `compress: false` stores the columns' bytes as
/// they are (faster to write and read, larger on disk).
pub fn encode_with(key: &Key, table: &ResultTable, meta: &EntryMeta, compress: bool) -> Encoded {
    let packed: Vec<(Filter, Vec<u8>)> = table
        .columns
        .iter()
        .map(|c| {
            if compress {
                codec::compress(c.dtype, c.bytes())
            } else {
                (Filter::Stored, c.bytes().to_vec())
            }
        })
        .collect();
    let mut out = Vec::with_capacity(256 + packed.iter().map(|p| p.1.len()).sum::<usize>());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&meta.created_ns.to_le_bytes());
    out.extend_from_slice(&meta.compute_ns.to_le_bytes());
    put_str(&mut out, &meta.detector);
    put_str(&mut out, crate::VERSION);
    out.extend_from_slice(&(table.columns.len() as u32).to_le_bytes());
    let (mut compressed_sum, mut raw_sum) = (Xxh3::new(), Xxh3::new());
    for (c, (filter, bytes)) in table.columns.iter().zip(&packed) {
        put_str(&mut out, &c.name);
        out.push(c.dtype.code());
        out.push(filter.code());
        out.extend_from_slice(&(c.bytes().len() as u64).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        compressed_sum.update(bytes);
        raw_sum.update(c.bytes());
    }
    let items = &table.meta[..table.meta.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(items.len() as u16).to_le_bytes());
    for (k, v) in items {
        put_str(&mut out, k);
        put_str(&mut out, v);
    }
    out.extend_from_slice(&compressed_sum.digest().to_le_bytes());
    out.extend_from_slice(&raw_sum.digest().to_le_bytes());
    let header_sum = xxh3_64(&out);
    out.extend_from_slice(&header_sum.to_le_bytes());
    let compressed_bytes = packed.iter().map(|p| p.1.len() as u64).sum();
    for (_, bytes) in &packed {
        out.extend_from_slice(bytes);
    }
    Encoded {
        bytes: out,
        raw_bytes: table.data_bytes() as u64,
        compressed_bytes,
    }
}

/// Sequential reads that fail (never panic) past the end.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EntryError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| bad("length overflow"))?;
        let out = self
            .buf
            .get(self.at..end)
            .ok_or_else(|| bad("entry is truncated"))?;
        self.at = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, EntryError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, EntryError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, EntryError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn string(&mut self) -> Result<String, EntryError> {
        let n = usize::from(self.u16()?);
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("a name is not UTF-8"))
    }
}

/// Decodes and validates an entry that must hold `key`.
pub fn decode(bytes: &[u8], key: &Key) -> Result<(ResultTable, EntryMeta), EntryError> {
    let mut r = Reader { buf: bytes, at: 0 };
    if r.take(8).map_err(|_| bad("shorter than an entry header"))? != MAGIC {
        return Err(bad("not an ictcore cache entry (bad magic)"));
    }
    let version = r.u16()?;
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "entry format {version}, this ictcore reads {FORMAT_VERSION}"
        )));
    }
    let stored_key = r.array::<16>()?;
    let created_ns = r.u64()? as i64;
    let compute_ns = r.u64()?;
    let detector = r.string()?;
    let _writer_version = r.string()?;
    let columns = r.u32()? as usize;
    let mut layout = Vec::with_capacity(columns.min(1024));
    for _ in 0..columns {
        let name = r.string()?;
        let dtype = Dtype::from_code(r.u8()?).ok_or_else(|| bad("unknown dtype"))?;
        let filter = Filter::from_code(r.u8()?).ok_or_else(|| bad("unknown filter"))?;
        let (raw_len, packed_len) = (r.u64()?, r.u64()?);
        if raw_len >= MAX_COLUMN_BYTES || packed_len >= MAX_COLUMN_BYTES {
            return Err(bad("implausible column length"));
        }
        layout.push((name, dtype, filter, raw_len as usize, packed_len as usize));
    }
    let items = r.u16()?;
    let mut table_meta = Vec::new();
    for _ in 0..items {
        table_meta.push((r.string()?, r.string()?));
    }
    let compressed_sum = r.u64()?;
    let raw_sum = r.u64()?;
    let header_end = r.at;
    let header_sum = r.u64()?;
    if xxh3_64(&bytes[..header_end]) != header_sum {
        return Err(bad("header checksum mismatch"));
    }
    if stored_key != key.0 {
        return Err(bad("entry holds another key"));
    }
    let payload = &bytes[r.at..];
    let expected: usize = layout.iter().map(|c| c.4).sum();
    if payload.len() != expected {
        return Err(bad(format!(
            "payload is {} bytes, the header says {expected}",
            payload.len()
        )));
    }
    if xxh3_64(payload) != compressed_sum {
        return Err(bad("payload checksum mismatch"));
    }
    let mut table = ResultTable {
        meta: table_meta,
        ..ResultTable::default()
    };
    let mut raw = Xxh3::new();
    let mut at = 0;
    for (name, dtype, filter, raw_len, packed_len) in layout {
        let packed = &payload[at..at + packed_len];
        at += packed_len;
        // Lengths are checked against the bytes present before anything is allocated.
        let checked = codec::check_raw_len(filter, dtype, packed, raw_len)
            .map_err(|e| bad(format!("column '{name}': {e}")))?;
        // Straight into the column's aligned buffer: no second copy.
        let mut column =
            Column::zeroed(name, dtype, raw_len).map_err(|e| bad(format!("column: {e}")))?;
        checked
            .decompress_into(dtype, column.bytes_mut())
            .map_err(|e| bad(format!("column '{}': {e}", column.name)))?;
        raw.update(column.bytes());
        table.columns.push(column);
    }
    if raw.digest() != raw_sum {
        return Err(bad("decompressed payload checksum mismatch"));
    }
    Ok((
        table,
        EntryMeta {
            detector,
            created_ns,
            compute_ns,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Key, ResultTable, EntryMeta) {
        let table = ResultTable {
            columns: vec![
                Column::f64(
                    "FVG",
                    (0..3000)
                        .map(|i| if i % 7 == 0 { 1.0 } else { f64::NAN })
                        .collect(),
                ),
                Column::f64("MitigatedIndex", (0..3000).map(f64::from).collect()),
                Column::from_bytes("active", Dtype::I32, &[1, 0, 0, 0]).unwrap(),
            ],
            meta: vec![("windows".into(), "asian,london_open".into())],
        };
        let meta = EntryMeta {
            detector: "compat.fvg".into(),
            created_ns: 1,
            compute_ns: 2,
        };
        (Key([7; 16]), table, meta)
    }

    #[test]
    fn round_trip() {
        let (key, table, meta) = sample();
        let e = encode(&key, &table, &meta);
        assert!(
            e.compressed_bytes * 5 < e.raw_bytes,
            "{} vs {}",
            e.compressed_bytes,
            e.raw_bytes
        );
        let (back, back_meta) = decode(&e.bytes, &key).unwrap();
        assert_eq!((back, back_meta), (table, meta));
        assert!(decode(&e.bytes, &Key([8; 16])).is_err(), "another key");
    }

    /// Promise C1 at the format level: every single-bit flip, every truncation, zero fills
    /// and another format version are refused (the whole entry is checksummed).
    #[test]
    fn every_bit_flip_and_truncation_is_refused() {
        let (key, table, meta) = sample();
        let bytes = encode(&key, &table, &meta).bytes;
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&b, &key).is_err(), "flip of bit {bit} accepted");
        }
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len], &key).is_err(),
                "truncation to {len} accepted"
            );
        }
        let mut zeroed = bytes.clone();
        let mid = zeroed.len() / 2;
        zeroed[mid..].fill(0);
        assert!(decode(&zeroed, &key).is_err());
        let mut future = bytes.clone();
        future[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let err = decode(&future, &key).unwrap_err();
        let expected = format!("entry format {}", FORMAT_VERSION + 1);
        assert!(err.0.contains(&expected), "{err}");
    }
}
