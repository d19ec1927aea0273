//! Column compression for disk entries (`storage-and-cache.md` §2.4): each column is
//! compressed with lz4 both raw and after a delta + zigzag + byte-shuffle filter, and the
//! smaller is kept. Detector outputs are mostly NaN runs and repeated levels (raw lz4 wins);
//! index-like and price-like columns compress far better as small deltas (the filter wins).

use super::table::Dtype;

/// How a column's bytes were transformed before lz4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// lz4 of the bytes as they are.
    Raw,
    /// lz4 of the byte-shuffled zigzag deltas of the elements (as integers of their width).
    DeltaShuffle,
}

impl Filter {
    pub fn code(self) -> u8 {
        match self {
            Filter::Raw => 0,
            Filter::DeltaShuffle => 1,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Filter::Raw),
            1 => Some(Filter::DeltaShuffle),
            _ => None,
        }
    }
}

/// Columns longer than this choose their filter on a sample of this many bytes first, then
/// compress once: compressing both ways doubled the cost of a cold portfolio scan.
const SAMPLE_BYTES: usize = 256 << 10;

/// Compresses one column's bytes, choosing the smaller encoding (by trying both on the whole
/// column, or on its first [`SAMPLE_BYTES`] when it is longer).
pub fn compress(dtype: Dtype, bytes: &[u8]) -> (Filter, Vec<u8>) {
    let width = dtype.size();
    if !matches!(width, 4 | 8) || bytes.len() < 64 {
        return (Filter::Raw, lz4_flex::block::compress(bytes));
    }
    if bytes.len() > SAMPLE_BYTES {
        let sample = &bytes[..SAMPLE_BYTES / width * width];
        let raw = lz4_flex::block::compress(sample).len();
        let filtered = lz4_flex::block::compress(&delta_shuffle(sample, width)).len();
        return if filtered < raw {
            (
                Filter::DeltaShuffle,
                lz4_flex::block::compress(&delta_shuffle(bytes, width)),
            )
        } else {
            (Filter::Raw, lz4_flex::block::compress(bytes))
        };
    }
    let raw = lz4_flex::block::compress(bytes);
    let filtered = lz4_flex::block::compress(&delta_shuffle(bytes, width));
    if filtered.len() < raw.len() {
        (Filter::DeltaShuffle, filtered)
    } else {
        (Filter::Raw, raw)
    }
}

/// Decompresses one column into `out`, whose length is the exact expected length. Any
/// mismatch is an error (the caller treats it as a corrupt entry).
pub fn decompress_into(
    filter: Filter,
    dtype: Dtype,
    compressed: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    let raw_len = out.len();
    if filter == Filter::DeltaShuffle
        && (!matches!(dtype.size(), 4 | 8) || !raw_len.is_multiple_of(dtype.size()))
    {
        return Err(format!("filter does not apply to {}", dtype.name()));
    }
    let mut planes = Vec::new();
    let target: &mut [u8] = match filter {
        Filter::Raw => out,
        Filter::DeltaShuffle => {
            planes = vec![0u8; raw_len];
            &mut planes
        }
    };
    let n = lz4_flex::block::decompress_into(compressed, target).map_err(|e| e.to_string())?;
    if n != raw_len {
        return Err(format!("decompressed to {n} bytes, expected {raw_len}"));
    }
    if filter == Filter::DeltaShuffle {
        undo_delta_shuffle(&planes, dtype.size(), out);
    }
    Ok(())
}

fn zigzag(d: u64, width: usize) -> u64 {
    let bits = width as u32 * 8;
    let signed = ((d << (64 - bits)) as i64) >> (64 - bits); // sign-extend from `bits`
    (((signed << 1) ^ (signed >> 63)) as u64) & mask(width)
}

fn unzigzag(z: u64, width: usize) -> u64 {
    ((z >> 1) ^ (z & 1).wrapping_neg()) & mask(width)
}

fn mask(width: usize) -> u64 {
    if width == 8 {
        u64::MAX
    } else {
        (1u64 << (width * 8)) - 1
    }
}

fn element(bytes: &[u8], width: usize) -> u64 {
    let mut word = [0u8; 8];
    word[..width].copy_from_slice(&bytes[..width]);
    u64::from_le_bytes(word)
}

/// Elements as unsigned integers of their width -> zigzag deltas -> byte planes. Done plane by
/// plane over a word buffer, so each pass reads and writes sequentially (vectorisable).
fn delta_shuffle(bytes: &[u8], width: usize) -> Vec<u8> {
    let n = bytes.len() / width;
    let mut zigzags = Vec::with_capacity(n);
    if width == 8 {
        // The common case (float64/int64 columns), without the generic width arithmetic.
        let mut previous = 0u64;
        for chunk in bytes.chunks_exact(8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let v = u64::from_le_bytes(word);
            let d = v.wrapping_sub(previous) as i64;
            zigzags.push(((d << 1) ^ (d >> 63)) as u64);
            previous = v;
        }
    } else {
        let mut previous = 0u64;
        for chunk in bytes.chunks_exact(width) {
            let v = element(chunk, width);
            zigzags.push(zigzag(v.wrapping_sub(previous) & mask(width), width));
            previous = v;
        }
    }
    let mut out = vec![0u8; n * width];
    for (b, plane) in out.chunks_exact_mut(n.max(1)).take(width).enumerate() {
        for (byte, z) in plane.iter_mut().zip(&zigzags) {
            *byte = (z >> (8 * b)) as u8;
        }
    }
    out
}

fn undo_delta_shuffle(planes: &[u8], width: usize, out: &mut [u8]) {
    let n = planes.len() / width;
    let mut zigzags = vec![0u64; n];
    for (b, plane) in planes.chunks_exact(n.max(1)).take(width).enumerate() {
        for (z, &byte) in zigzags.iter_mut().zip(plane) {
            *z |= u64::from(byte) << (8 * b);
        }
    }
    let mut previous = 0u64;
    for (chunk, z) in out.chunks_exact_mut(width).zip(zigzags) {
        let v = previous.wrapping_add(unzigzag(z, width)) & mask(width);
        chunk.copy_from_slice(&v.to_le_bytes()[..width]);
        previous = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`decompress_into`] a new buffer.
    pub fn decompress(
        filter: Filter,
        dtype: Dtype,
        compressed: &[u8],
        raw_len: usize,
    ) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; raw_len];
        decompress_into(filter, dtype, compressed, &mut out)?;
        Ok(out)
    }

    fn round_trip(dtype: Dtype, bytes: &[u8]) -> Filter {
        let (filter, packed) = compress(dtype, bytes);
        let back = decompress(filter, dtype, &packed, bytes.len()).unwrap();
        assert_eq!(back, bytes);
        filter
    }

    #[test]
    fn both_filters_round_trip_and_the_smaller_wins() {
        let index: Vec<f64> = (0..10_000).map(f64::from).collect();
        let nans = vec![f64::NAN; 10_000];
        assert_eq!(
            round_trip(Dtype::F64, bytemuck::cast_slice(&index)),
            Filter::DeltaShuffle
        );
        assert_eq!(
            round_trip(Dtype::F64, bytemuck::cast_slice(&nans)),
            Filter::Raw
        );
        let ints: Vec<i32> = (0..5000).map(|i| i * 3 - 7000).collect();
        round_trip(Dtype::I32, bytemuck::cast_slice(&ints));
        round_trip(Dtype::Bool, &[0, 1, 1, 0, 1]);
        round_trip(Dtype::F64, &[]);
    }

    #[test]
    fn a_wrong_length_or_garbage_is_an_error_not_a_panic() {
        let (f, packed) = compress(Dtype::F64, &[7u8; 800]);
        assert!(decompress(f, Dtype::F64, &packed, 799).is_err());
        assert!(decompress(f, Dtype::F64, &packed, 801).is_err());
        assert!(decompress(Filter::DeltaShuffle, Dtype::U8, &packed, 800).is_err());
        let _ = decompress(Filter::Raw, Dtype::F64, &[0xF0, 1, 2, 3], 100);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2000), wide in proptest::bool::ANY) {
            let dtype = if wide { Dtype::I64 } else { Dtype::I32 };
            let len = bytes.len() / dtype.size() * dtype.size();
            let bytes = &bytes[..len];
            for filter in [Filter::Raw, Filter::DeltaShuffle] {
                let packed = match filter {
                    Filter::Raw => lz4_flex::block::compress(bytes),
                    Filter::DeltaShuffle => lz4_flex::block::compress(&delta_shuffle(bytes, dtype.size())),
                };
                proptest::prop_assert_eq!(decompress(filter, dtype, &packed, len).unwrap(), bytes);
            }
        }

        #[test]
        fn garbage_never_panics(garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..300), len in 0usize..4000) {
            let _ = decompress(Filter::Raw, Dtype::F64, &garbage, len);
            let _ = decompress(Filter::DeltaShuffle, Dtype::F64, &garbage, len / 8 * 8);
        }
    }
}
