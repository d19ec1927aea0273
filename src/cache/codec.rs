//! Column compression for disk entries (`storage-and-cache.md` §2.4). Detector outputs are
//! mostly long runs of one value (NaN between events, a level held until it changes): those
//! are stored as runs (one pass to count them, lengths + values, then lz4), which costs a
//! fraction of compressing every element. Other columns are compressed with lz4 both raw and
//! after a delta + zigzag + byte-shuffle filter, and the smaller is kept: index-like and
//! price-like columns compress far better as small deltas.

use crate::table::Dtype;

/// How a column's bytes were transformed before lz4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// lz4 of the bytes as they are.
    Raw,
    /// lz4 of the byte-shuffled zigzag deltas of the elements (as integers of their width).
    DeltaShuffle,
    /// lz4 of the runs of equal elements: u64 run count, u32 run lengths, one element per run.
    Runs,
    /// The bytes as they are, not compressed (a cache made with compression off).
    Stored,
}

impl Filter {
    pub fn code(self) -> u8 {
        match self {
            Filter::Raw => 0,
            Filter::DeltaShuffle => 1,
            Filter::Runs => 2,
            Filter::Stored => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Filter::Raw),
            1 => Some(Filter::DeltaShuffle),
            2 => Some(Filter::Runs),
            3 => Some(Filter::Stored),
            _ => None,
        }
    }
}

/// Columns longer than this choose their filter on a sample of this many bytes first, then
/// compress once: compressing both ways doubled the cost of a cold portfolio scan.
const SAMPLE_BYTES: usize = 256 << 10;

/// A column is stored as runs when it has at most one run per this many elements (the runs
/// then take at most 12 / (8 * 8) of the raw bytes before lz4).
const ELEMENTS_PER_RUN: usize = 8;

/// Per-thread buffers for compression: columns are megabytes each, and a fresh buffer per
/// column (lz4's output, the filter's planes) cost page faults on every entry and crowded the
/// extension allocator's cache of large blocks (peak memory of a cold portfolio scan).
#[derive(Default)]
struct Scratch {
    lz4: Vec<u8>,
    planes: Vec<u8>,
    words: Vec<u64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// lz4 of `input` into `out` (grown as needed); the compressed length.
fn lz4_into(input: &[u8], out: &mut Vec<u8>) -> usize {
    let max = lz4_flex::block::get_maximum_output_size(input.len());
    if out.len() < max {
        out.resize(max, 0);
    }
    match lz4_flex::block::compress_into(input, out) {
        Ok(n) => n,
        // Not expected (the output holds the maximum size); the allocating form then.
        Err(_) => {
            *out = lz4_flex::block::compress(input);
            out.len()
        }
    }
}

/// Compresses one column's bytes, choosing the smaller encoding (by trying both on the whole
/// column, or on its first [`SAMPLE_BYTES`] when it is longer).
pub fn compress(dtype: Dtype, bytes: &[u8]) -> (Filter, Vec<u8>) {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => compress_with(&mut scratch, dtype, bytes),
        // Re-entered on this thread (never in practice): use fresh buffers.
        Err(_) => compress_with(&mut Scratch::default(), dtype, bytes),
    })
}

fn compress_with(s: &mut Scratch, dtype: Dtype, bytes: &[u8]) -> (Filter, Vec<u8>) {
    let Scratch { lz4, planes, words } = s;
    let packed = |input: &[u8], lz4: &mut Vec<u8>| {
        let n = lz4_into(input, lz4);
        lz4[..n].to_vec()
    };
    let width = dtype.size();
    if !matches!(width, 4 | 8) || bytes.len() < 64 {
        return (Filter::Raw, packed(bytes, lz4));
    }
    let n = bytes.len() / width;
    // A sample with far more runs than the threshold spares counting the whole column.
    let sample = &bytes[..bytes.len().min(SAMPLE_BYTES) / width * width];
    let hopeless = count_runs(sample, width) > 2 * (sample.len() / width) / ELEMENTS_PER_RUN;
    if !hopeless && count_runs(bytes, width) <= n / ELEMENTS_PER_RUN {
        return (Filter::Runs, packed(&to_runs(bytes, width), lz4));
    }
    if bytes.len() > SAMPLE_BYTES {
        let raw = lz4_into(sample, lz4);
        delta_shuffle_into(sample, width, words, planes);
        let filtered = lz4_into(planes, lz4);
        return if filtered < raw {
            delta_shuffle_into(bytes, width, words, planes);
            let n = lz4_into(planes, lz4);
            (Filter::DeltaShuffle, lz4[..n].to_vec())
        } else {
            (Filter::Raw, packed(bytes, lz4))
        };
    }
    let raw = packed(bytes, lz4);
    delta_shuffle_into(bytes, width, words, planes);
    let n = lz4_into(planes, lz4);
    if n < raw.len() {
        (Filter::DeltaShuffle, lz4[..n].to_vec())
    } else {
        (Filter::Raw, raw)
    }
}

/// The most bytes lz4 can expand `compressed` bytes to: a block sequence of a token, an
/// offset and n length bytes copies at most 255 n + 19 bytes (plus literals, which are in the
/// input). Used to refuse a recorded length that the bytes present cannot hold, before any
/// memory is allocated for it (`storage-and-cache.md` T2).
pub fn max_lz4_output(compressed: usize) -> usize {
    compressed.saturating_mul(255).saturating_add(64)
}

/// A zeroed buffer of `len` bytes, or an error if the memory cannot be had (a damaged length
/// must be an error, never an abort).
pub fn try_zeroed(len: usize) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|e| format!("cannot allocate {len} bytes: {e}"))?;
    v.resize(len, 0);
    Ok(v)
}

/// A column's compressed bytes, checked against the length they must fill, before memory is
/// allocated for it (runs already decoded from their bounded buffer).
pub enum Checked<'a> {
    Runs(Runs),
    /// Uncompressed bytes of exactly the column's length.
    Stored(&'a [u8]),
    Lz4 {
        filter: Filter,
        bytes: &'a [u8],
    },
}

/// Checks that `compressed` can decompress to `raw_len` bytes with `filter`: a whole number
/// of elements, a filter that applies to the dtype, and no more than lz4 can produce from
/// the bytes present (runs: run lengths that add up to the column, read from a buffer
/// bounded the same way). Nothing large is allocated before this passes.
pub fn check_raw_len(
    filter: Filter,
    dtype: Dtype,
    compressed: &[u8],
    raw_len: usize,
) -> Result<Checked<'_>, String> {
    if !raw_len.is_multiple_of(dtype.size()) {
        return Err(format!(
            "{raw_len} bytes is not a whole number of {}",
            dtype.name()
        ));
    }
    if filter == Filter::Stored {
        if compressed.len() != raw_len {
            return Err(format!(
                "{} stored bytes for a column of {raw_len}",
                compressed.len()
            ));
        }
        return Ok(Checked::Stored(compressed));
    }
    if filter != Filter::Raw && !matches!(dtype.size(), 4 | 8) {
        return Err(format!("filter does not apply to {}", dtype.name()));
    }
    if filter == Filter::Runs {
        let n = raw_len / dtype.size();
        let runs = read_runs(compressed, dtype.size(), n)?;
        runs.check_fills(n)?;
        return Ok(Checked::Runs(runs));
    }
    if raw_len > max_lz4_output(compressed.len()) {
        return Err(format!(
            "{} compressed bytes cannot hold {raw_len} bytes",
            compressed.len()
        ));
    }
    Ok(Checked::Lz4 {
        filter,
        bytes: compressed,
    })
}

impl Checked<'_> {
    /// Decompresses into `out`, whose length is the one checked. Any mismatch is an error.
    pub fn decompress_into(self, dtype: Dtype, out: &mut [u8]) -> Result<(), String> {
        let (filter, compressed) = match self {
            Checked::Runs(runs) => return runs.expand(dtype.size(), out),
            Checked::Stored(bytes) => {
                out.copy_from_slice(bytes);
                return Ok(());
            }
            Checked::Lz4 { filter, bytes } => (filter, bytes),
        };
        let raw_len = out.len();
        let mut planes = Vec::new();
        let target: &mut [u8] = if filter == Filter::DeltaShuffle {
            planes = try_zeroed(raw_len)?;
            &mut planes
        } else {
            out
        };
        let n = lz4_flex::block::decompress_into(compressed, target).map_err(|e| e.to_string())?;
        if n != raw_len {
            return Err(format!("decompressed to {n} bytes, expected {raw_len}"));
        }
        if filter == Filter::DeltaShuffle {
            undo_delta_shuffle(&planes, dtype.size(), out)?;
        }
        Ok(())
    }
}

/// Decompresses one column into `out`, whose length is the exact expected length
/// ([`check_raw_len`], then [`Checked::decompress_into`]). Any mismatch is an error (the
/// caller treats it as a corrupt entry).
pub fn decompress_into(
    filter: Filter,
    dtype: Dtype,
    compressed: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    check_raw_len(filter, dtype, compressed, out.len())?.decompress_into(dtype, out)
}

/// How many runs of equal elements `bytes` holds (a run is cut at u32::MAX elements).
/// Elements are compared as fixed-size byte arrays (one integer compare each), so NaN
/// payloads and -0.0 are told apart.
fn count_runs(bytes: &[u8], width: usize) -> usize {
    fn count<const W: usize>(bytes: &[u8]) -> usize {
        let (elements, _) = bytes.as_chunks::<W>();
        let next = elements.get(1..).unwrap_or_default();
        let changes: usize = elements
            .iter()
            .zip(next)
            .map(|(a, b)| usize::from(a != b))
            .sum();
        usize::from(!elements.is_empty()) + changes + elements.len() / u32::MAX as usize
    }
    if width == 8 {
        count::<8>(bytes)
    } else {
        count::<4>(bytes)
    }
}

/// `[runs: u64][lengths: u32 x runs][values: width x runs]`, little-endian.
fn to_runs(bytes: &[u8], width: usize) -> Vec<u8> {
    fn encode<const W: usize>(bytes: &[u8]) -> Vec<u8> {
        let (elements, _) = bytes.as_chunks::<W>();
        let mut lengths: Vec<u32> = Vec::new();
        let mut values: Vec<u8> = Vec::new();
        let mut previous: Option<&[u8; W]> = None;
        for v in elements {
            match lengths.last_mut() {
                Some(len) if previous == Some(v) && *len < u32::MAX => *len += 1,
                _ => {
                    lengths.push(1);
                    values.extend_from_slice(v);
                }
            }
            previous = Some(v);
        }
        let mut out = Vec::with_capacity(8 + lengths.len() * 4 + values.len());
        out.extend_from_slice(&(lengths.len() as u64).to_le_bytes());
        for len in &lengths {
            out.extend_from_slice(&len.to_le_bytes());
        }
        out.extend_from_slice(&values);
        out
    }
    if width == 8 {
        encode::<8>(bytes)
    } else {
        encode::<4>(bytes)
    }
}

/// The runs of a column, decoded from lz4 and checked for shape: `[count][lengths][values]`.
pub struct Runs {
    bytes: Vec<u8>,
    count: usize,
}

/// Decompresses the runs of a column of `n` elements. The buffer is bounded both by the
/// most runs such a column can have and by what lz4 can make of the bytes present, so a
/// damaged length cannot make it large.
fn read_runs(compressed: &[u8], width: usize, n: usize) -> Result<Runs, String> {
    // No more runs than elements, and no more bytes than the input can expand to.
    let limit = n
        .checked_mul(4 + width)
        .and_then(|b| b.checked_add(8))
        .ok_or("run count overflows")?
        .min(max_lz4_output(compressed.len()));
    let mut bytes = try_zeroed(limit)?;
    let len =
        lz4_flex::block::decompress_into(compressed, &mut bytes).map_err(|e| e.to_string())?;
    bytes.truncate(len);
    let count = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .ok_or("runs header missing")?;
    let fits = usize::try_from(count)
        .ok()
        .filter(|&c| c <= n)
        .filter(|&c| c.checked_mul(4 + width).and_then(|b| b.checked_add(8)) == Some(len));
    let Some(count) = fits else {
        return Err(format!("{len} bytes of runs do not hold {count} runs"));
    };
    Ok(Runs { bytes, count })
}

impl Runs {
    fn lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.bytes[8..8 + self.count * 4]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    /// Checks that the runs cover exactly `n` elements (before the column is allocated).
    fn check_fills(&self, n: usize) -> Result<(), String> {
        let total = self
            .lengths()
            .try_fold(0usize, |sum, len| sum.checked_add(len));
        if total == Some(n) {
            Ok(())
        } else {
            Err(format!("runs do not fill the column's {n} elements"))
        }
    }

    /// Writes the runs into `out`, checking every length against `out`'s.
    fn expand(&self, width: usize, out: &mut [u8]) -> Result<(), String> {
        let values = &self.bytes[8 + self.count * 4..];
        let mut at = 0usize;
        for (len, value) in self.lengths().zip(values.chunks_exact(width)) {
            let end = len
                .checked_mul(width)
                .and_then(|b| b.checked_add(at))
                .ok_or("runs longer than the column")?;
            let target = out.get_mut(at..end).ok_or("runs longer than the column")?;
            for slot in target.chunks_exact_mut(width) {
                slot.copy_from_slice(value);
            }
            at = end;
        }
        if at != out.len() {
            return Err(format!("runs fill {at} of {} bytes", out.len()));
        }
        Ok(())
    }
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

/// Elements as unsigned integers of their width -> zigzag deltas -> byte planes, into `out`
/// (`words` is scratch). Done plane by plane over a word buffer, so each pass reads and
/// writes sequentially (vectorisable).
fn delta_shuffle_into(bytes: &[u8], width: usize, words: &mut Vec<u64>, out: &mut Vec<u8>) {
    let n = bytes.len() / width;
    words.clear();
    if width == 8 {
        // The common case (float64/int64 columns), without the generic width arithmetic.
        let mut previous = 0u64;
        for chunk in bytes.chunks_exact(8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let v = u64::from_le_bytes(word);
            let d = v.wrapping_sub(previous) as i64;
            words.push(((d << 1) ^ (d >> 63)) as u64);
            previous = v;
        }
    } else {
        let mut previous = 0u64;
        for chunk in bytes.chunks_exact(width) {
            let v = element(chunk, width);
            words.push(zigzag(v.wrapping_sub(previous) & mask(width), width));
            previous = v;
        }
    }
    out.clear();
    out.resize(n * width, 0);
    for (b, plane) in out.chunks_exact_mut(n.max(1)).take(width).enumerate() {
        for (byte, z) in plane.iter_mut().zip(words.iter()) {
            *byte = (z >> (8 * b)) as u8;
        }
    }
}

/// [`delta_shuffle_into`] a new buffer.
#[cfg(test)]
fn delta_shuffle(bytes: &[u8], width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    delta_shuffle_into(bytes, width, &mut Vec::new(), &mut out);
    out
}

fn undo_delta_shuffle(planes: &[u8], width: usize, out: &mut [u8]) -> Result<(), String> {
    let n = planes.len() / width;
    let mut zigzags = Vec::new();
    zigzags
        .try_reserve_exact(n)
        .map_err(|e| format!("cannot allocate {n} words: {e}"))?;
    zigzags.resize(n, 0u64);
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
    Ok(())
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
            Filter::Runs
        );
        // Noise: neither runs nor small deltas help.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u64> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect();
        assert_eq!(
            round_trip(Dtype::I64, bytemuck::cast_slice(&noise)),
            Filter::Raw
        );
        let ints: Vec<i32> = (0..5000).map(|i| i * 3 - 7000).collect();
        round_trip(Dtype::I32, bytemuck::cast_slice(&ints));
        round_trip(Dtype::Bool, &[0, 1, 1, 0, 1]);
        round_trip(Dtype::F64, &[]);
    }

    /// An event column: NaN with a few values, as detectors write them. Stored as runs, and
    /// every bit comes back (two NaN payloads, -0.0 and 0.0 are told apart).
    #[test]
    fn sparse_and_step_columns_are_stored_as_runs_bit_for_bit() {
        let mut events = vec![f64::NAN; 100_000];
        events[3] = 1.5;
        events[4] = -0.0;
        events[5] = 0.0;
        events[99_999] = f64::from_bits(f64::NAN.to_bits() | 7);
        let bytes: &[u8] = bytemuck::cast_slice(&events);
        let (filter, packed) = compress(Dtype::F64, bytes);
        assert_eq!(filter, Filter::Runs);
        assert!(packed.len() < 200, "{} bytes", packed.len());
        assert_eq!(
            decompress(filter, Dtype::F64, &packed, bytes.len()).unwrap(),
            bytes
        );
        let steps: Vec<i32> = (0..50_000).map(|i| i / 1000 - 20).collect();
        assert_eq!(
            round_trip(Dtype::I32, bytemuck::cast_slice(&steps)),
            Filter::Runs
        );
    }

    #[test]
    fn runs_that_do_not_fill_the_column_exactly_are_refused() {
        let column = vec![2.0f64; 1000];
        let bytes: &[u8] = bytemuck::cast_slice(&column);
        let (filter, packed) = compress(Dtype::F64, bytes);
        assert_eq!(filter, Filter::Runs);
        assert!(decompress(filter, Dtype::F64, &packed, bytes.len() - 8).is_err());
        assert!(decompress(filter, Dtype::F64, &packed, bytes.len() + 8).is_err());
        let lying = lz4_flex::block::compress(&[5u64.to_le_bytes(), [0; 8]].concat());
        assert!(decompress(filter, Dtype::F64, &lying, 800).is_err());
    }

    #[test]
    fn a_wrong_length_or_garbage_is_an_error_not_a_panic() {
        let (f, packed) = compress(Dtype::F64, &[7u8; 800]);
        assert!(decompress(f, Dtype::F64, &packed, 799).is_err());
        assert!(decompress(f, Dtype::F64, &packed, 801).is_err());
        assert!(decompress(Filter::DeltaShuffle, Dtype::U8, &packed, 800).is_err());
        let _ = decompress(Filter::Raw, Dtype::F64, &[0xF0, 1, 2, 3], 100);
        // Stored bytes must be exactly the column's length.
        assert!(decompress(Filter::Stored, Dtype::F64, &[0u8; 16], 8).is_err());
        assert!(decompress(Filter::Stored, Dtype::F64, &[0u8; 8], 16).is_err());
        assert!(decompress(Filter::Stored, Dtype::F64, &[0u8; 12], 12).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2000), wide in proptest::bool::ANY) {
            let dtype = if wide { Dtype::I64 } else { Dtype::I32 };
            let len = bytes.len() / dtype.size() * dtype.size();
            let bytes = &bytes[..len];
            for filter in [Filter::Raw, Filter::DeltaShuffle, Filter::Runs, Filter::Stored] {
                let packed = match filter {
                    Filter::Raw => lz4_flex::block::compress(bytes),
                    Filter::DeltaShuffle => lz4_flex::block::compress(&delta_shuffle(bytes, dtype.size())),
                    Filter::Runs => lz4_flex::block::compress(&to_runs(bytes, dtype.size())),
                    Filter::Stored => bytes.to_vec(),
                };
                proptest::prop_assert_eq!(decompress(filter, dtype, &packed, len).unwrap(), bytes);
            }
        }

        /// Columns built from runs (of NaN payloads, signed zeros, levels) round-trip through
        /// whatever `compress` picks.
        #[test]
        fn run_heavy_columns_round_trip(runs in proptest::collection::vec((0usize..5, 1usize..300), 0..60)) {
            let palette = [f64::NAN, f64::from_bits(f64::NAN.to_bits() | 1), -0.0, 0.0, 1.25];
            let column: Vec<f64> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(palette[v], n)).collect();
            let bytes: &[u8] = bytemuck::cast_slice(&column);
            let (filter, packed) = compress(Dtype::F64, bytes);
            proptest::prop_assert_eq!(decompress(filter, Dtype::F64, &packed, bytes.len()).unwrap(), bytes);
        }

        #[test]
        fn garbage_never_panics(garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..300), len in 0usize..4000) {
            let _ = decompress(Filter::Raw, Dtype::F64, &garbage, len);
            let _ = decompress(Filter::DeltaShuffle, Dtype::F64, &garbage, len / 8 * 8);
            let _ = decompress(Filter::Runs, Dtype::F64, &garbage, len / 8 * 8);
            let _ = decompress(Filter::Stored, Dtype::F64, &garbage, len / 8 * 8);
        }
    }
}
