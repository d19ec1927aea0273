//! Header slots of a series file (format 1.0), little-endian:
//!
//! | offset | field |
//! |---:|---|
//! | 0 | magic `89 'I' 'C' 'T' 0D 0A 1A 0A` (non-ASCII first byte and CR LF, as PNG does) |
//! | 8 | format major (u16), minor (u16) |
//! | 12 | feature flags: compat, ro_compat, incompat (u32 each) |
//! | 24 | slot sequence number (u64): the commit generation |
//! | 32 | column count (u32 = 6), reserved (u32) |
//! | 40 | 6 columns x { dtype code (u32), reserved (u32), name (16 bytes, NUL padded), region offset (u64) } |
//! | 232 | capacity_rows, committed_rows (u64) |
//! | 248 | first_ts, last_ts (i64 ns UTC; 0 when empty) |
//! | 264 | timeframe in seconds (u64) |
//! | 272 | block_rows, sealed_blocks (u64) |
//! | 288 | tail block checksums, xxh3-64 per column (6 x u64) |
//! | 336 | chain hash: xxh3-64 of the sealed-block checksum table (u64) |
//! | 344 | writer pid (u64), commit time (i64 ns), diagnostics only |
//! | 360 | symbol length (u16), symbol (64 bytes UTF-8, NUL padded) |
//! | 432 | synced_rows (u64): rows whose data was synced by an earlier commit (only read when the compat feature `UNSYNCED` is set) |
//! | 4088 | slot checksum: xxh3-64 of bytes 0..4088 |
//!
//! The sealed-block checksum table starts at 8192; column regions follow, each on a 4096-byte
//! boundary and `capacity_rows * 8` bytes long.

use xxhash_rust::xxh3::xxh3_64;

/// First eight bytes of every series file.
pub const MAGIC: [u8; 8] = [0x89, b'I', b'C', b'T', b'\r', b'\n', 0x1A, b'\n'];
/// Format version written by this code; files of another major version are refused.
pub const FORMAT_MAJOR: u16 = 1;
/// Minor version written by this code; newer minors are read (they only add compat features).
pub const FORMAT_MINOR: u16 = 0;
/// Bytes per header slot.
pub const SLOT_SIZE: usize = 4096;
/// File offsets of the two slots.
pub const SLOT_OFFSETS: [u64; 2] = [0, 4096];
/// File offset of the sealed-block checksum table.
pub const TABLE_OFFSET: u64 = 8192;
/// Rows per checksummed block.
pub const BLOCK_ROWS: u64 = 65_536;
/// Longest symbol, in UTF-8 bytes.
pub const MAX_SYMBOL_BYTES: usize = 64;
/// Column names and dtype codes (1 = int64 ns, 2 = float64), in file order.
pub const COLUMNS: [(&str, u32); 6] = [
    ("time", 1),
    ("open", 2),
    ("high", 2),
    ("low", 2),
    ("close", 2),
    ("volume", 2),
];
const PAGE: u64 = 4096;
const CHECKSUM_AT: usize = SLOT_SIZE - 8;

/// Feature flags, in ext4's three sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// Unknown bits may be ignored.
    pub compat: u32,
    /// Unknown bits: the file may be read but not written.
    pub ro_compat: u32,
    /// Unknown bits: the file must be refused.
    pub incompat: u32,
}

/// Compat feature: this commit's data was not synced before its slot was written
/// (`durability="os"`), so rows from `synced_rows` on must be checked against their checksums
/// before they are trusted; a reader that fails the check falls back to the other slot. A
/// reader that does not know the bit reads the file as before.
pub const COMPAT_UNSYNCED: u32 = 1;

/// Feature bits this code understands (none yet).
pub const KNOWN_RO_COMPAT: u32 = 0;
/// Feature bits this code understands (none yet).
pub const KNOWN_INCOMPAT: u32 = 0;

/// One decoded header slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub minor: u16,
    pub features: Features,
    pub sequence: u64,
    pub capacity_rows: u64,
    pub committed_rows: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub timeframe_seconds: u64,
    pub block_rows: u64,
    pub sealed_blocks: u64,
    pub tail_checksums: [u64; 6],
    pub chain_hash: u64,
    pub writer_pid: u64,
    pub commit_time_ns: i64,
    pub symbol: String,
    /// Rows known to be on stable storage (== committed_rows unless `COMPAT_UNSYNCED`).
    pub synced_rows: u64,
}

/// Why a slot cannot be used. A reader falls back to the other slot; if neither is usable
/// the file is corrupt (or of a format this code refuses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("slot is shorter than {SLOT_SIZE} bytes")]
    Short,
    #[error("not an ictcore series file (bad magic)")]
    BadMagic,
    #[error("slot checksum mismatch (torn or damaged header)")]
    BadChecksum,
    #[error(
        "format version {major}.{minor} is not supported (this ictcore reads {FORMAT_MAJOR}.x)"
    )]
    UnsupportedVersion { major: u16, minor: u16 },
    #[error("unknown incompatible feature flags {0:#x}")]
    IncompatibleFeatures(u32),
    #[error("invalid header field {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
}

impl Header {
    /// An empty series with room for `capacity_rows` rows.
    pub fn new(symbol: &str, timeframe_seconds: u64, capacity_rows: u64) -> Self {
        Self {
            minor: FORMAT_MINOR,
            features: Features::default(),
            sequence: 0,
            capacity_rows,
            committed_rows: 0,
            first_ts: 0,
            last_ts: 0,
            timeframe_seconds,
            block_rows: BLOCK_ROWS,
            sealed_blocks: 0,
            tail_checksums: [0; 6],
            chain_hash: 0,
            writer_pid: 0,
            commit_time_ns: 0,
            symbol: symbol.to_string(),
            synced_rows: 0,
        }
    }

    /// Encodes the slot, checksum included.
    pub fn encode(&self) -> Result<Box<[u8; SLOT_SIZE]>, SlotError> {
        let symbol = self.symbol.as_bytes();
        if symbol.len() > MAX_SYMBOL_BYTES {
            return Err(invalid(
                "symbol",
                format!("longer than {MAX_SYMBOL_BYTES} bytes"),
            ));
        }
        let offsets = column_offsets(self.capacity_rows)?;
        let mut out = Box::new([0u8; SLOT_SIZE]);
        let mut w = Writer {
            buf: &mut out[..],
            at: 0,
        };
        w.bytes(&MAGIC);
        w.u16(FORMAT_MAJOR);
        w.u16(self.minor);
        w.u32(self.features.compat);
        w.u32(self.features.ro_compat);
        w.u32(self.features.incompat);
        w.u64(self.sequence);
        w.u32(COLUMNS.len() as u32);
        w.u32(0);
        for ((name, dtype), offset) in COLUMNS.iter().zip(offsets) {
            w.u32(*dtype);
            w.u32(0);
            let mut padded = [0u8; 16];
            padded[..name.len()].copy_from_slice(name.as_bytes());
            w.bytes(&padded);
            w.u64(offset);
        }
        w.u64(self.capacity_rows);
        w.u64(self.committed_rows);
        w.u64(self.first_ts as u64);
        w.u64(self.last_ts as u64);
        w.u64(self.timeframe_seconds);
        w.u64(self.block_rows);
        w.u64(self.sealed_blocks);
        for c in self.tail_checksums {
            w.u64(c);
        }
        w.u64(self.chain_hash);
        w.u64(self.writer_pid);
        w.u64(self.commit_time_ns as u64);
        w.u16(symbol.len() as u16);
        let mut padded = [0u8; MAX_SYMBOL_BYTES];
        padded[..symbol.len()].copy_from_slice(symbol);
        w.bytes(&padded);
        w.bytes(&[0u8; 6]);
        w.u64(self.synced_rows);
        let checksum = xxh3_64(&out[..CHECKSUM_AT]);
        out[CHECKSUM_AT..].copy_from_slice(&checksum.to_le_bytes());
        Ok(out)
    }

    /// Decodes and validates one slot. Every field a reader relies on is checked here, so an
    /// accepted header never points outside the file layout it describes.
    pub fn decode(slot: &[u8]) -> Result<Self, SlotError> {
        let slot = slot.get(..SLOT_SIZE).ok_or(SlotError::Short)?;
        if slot[..8] != MAGIC {
            return Err(SlotError::BadMagic);
        }
        let mut r = Reader { buf: slot, at: 8 };
        let stored = u64::from_le_bytes(to_array(&slot[CHECKSUM_AT..]));
        if xxh3_64(&slot[..CHECKSUM_AT]) != stored {
            return Err(SlotError::BadChecksum);
        }
        let (major, minor) = (r.u16(), r.u16());
        if major != FORMAT_MAJOR {
            return Err(SlotError::UnsupportedVersion { major, minor });
        }
        let features = Features {
            compat: r.u32(),
            ro_compat: r.u32(),
            incompat: r.u32(),
        };
        if features.incompat & !KNOWN_INCOMPAT != 0 {
            return Err(SlotError::IncompatibleFeatures(
                features.incompat & !KNOWN_INCOMPAT,
            ));
        }
        let sequence = r.u64();
        let columns = r.u32();
        r.u32();
        if columns as usize != COLUMNS.len() {
            return Err(invalid("column count", format!("{columns}, expected 6")));
        }
        let mut offsets = [0u64; 6];
        for ((name, dtype), offset) in COLUMNS.iter().zip(offsets.iter_mut()) {
            let (code, _) = (r.u32(), r.u32());
            let stored_name = r.bytes(16);
            let mut expected = [0u8; 16];
            expected[..name.len()].copy_from_slice(name.as_bytes());
            if code != *dtype || stored_name != expected {
                return Err(invalid("schema", format!("column '{name}' does not match")));
            }
            *offset = r.u64();
        }
        let header = Self {
            minor,
            features,
            sequence,
            capacity_rows: r.u64(),
            committed_rows: r.u64(),
            first_ts: r.u64() as i64,
            last_ts: r.u64() as i64,
            timeframe_seconds: r.u64(),
            block_rows: r.u64(),
            sealed_blocks: r.u64(),
            tail_checksums: std::array::from_fn(|_| r.u64()),
            chain_hash: r.u64(),
            writer_pid: r.u64(),
            commit_time_ns: r.u64() as i64,
            symbol: {
                let len = usize::from(r.u16());
                let bytes = r.bytes(MAX_SYMBOL_BYTES);
                let raw = bytes.get(..len).ok_or_else(|| {
                    invalid("symbol", format!("length {len} > {MAX_SYMBOL_BYTES}"))
                })?;
                String::from_utf8(raw.to_vec())
                    .map_err(|_| invalid("symbol", "not UTF-8".to_string()))?
            },
            synced_rows: 0,
        };
        r.bytes(6);
        let synced_rows = r.u64();
        let mut header = header;
        // Files written before the feature have zeros here: without the bit, all is synced.
        header.synced_rows = if header.unsynced() {
            synced_rows
        } else {
            header.committed_rows
        };
        if offsets != column_offsets(header.capacity_rows)? {
            return Err(invalid(
                "column offsets",
                "do not match the capacity".to_string(),
            ));
        }
        header.validate()?;
        Ok(header)
    }

    /// Whether this commit's data may not have reached stable storage (see [`COMPAT_UNSYNCED`]).
    pub fn unsynced(&self) -> bool {
        self.features.compat & COMPAT_UNSYNCED != 0
    }

    fn validate(&self) -> Result<(), SlotError> {
        if self.synced_rows > self.committed_rows {
            return Err(invalid(
                "synced_rows",
                format!("{} > committed {}", self.synced_rows, self.committed_rows),
            ));
        }
        if self.committed_rows > self.capacity_rows {
            return Err(invalid(
                "committed_rows",
                format!("{} > capacity {}", self.committed_rows, self.capacity_rows),
            ));
        }
        if self.block_rows != BLOCK_ROWS {
            return Err(invalid("block_rows", format!("{}", self.block_rows)));
        }
        if self.sealed_blocks != self.committed_rows / self.block_rows {
            return Err(invalid("sealed_blocks", format!("{}", self.sealed_blocks)));
        }
        if self.committed_rows > 0 && self.first_ts > self.last_ts {
            return Err(invalid("first_ts/last_ts", "first after last".to_string()));
        }
        Ok(())
    }

    /// Bytes the file must have for this header's capacity.
    pub fn file_len(&self) -> Result<u64, SlotError> {
        file_len(self.capacity_rows)
    }
}

/// Byte offsets of the six column regions for a capacity (each page-aligned, after the table).
pub fn column_offsets(capacity_rows: u64) -> Result<[u64; 6], SlotError> {
    let overflow = || invalid("capacity_rows", format!("{capacity_rows} is too large"));
    let blocks = capacity_rows.div_ceil(BLOCK_ROWS);
    let table = blocks
        .checked_mul(COLUMNS.len() as u64 * 8)
        .ok_or_else(overflow)?;
    let region = capacity_rows
        .checked_mul(8)
        .and_then(|b| b.checked_next_multiple_of(PAGE))
        .ok_or_else(overflow)?;
    let mut at = TABLE_OFFSET
        .checked_add(table)
        .and_then(|e| e.checked_next_multiple_of(PAGE))
        .ok_or_else(overflow)?;
    let mut offsets = [0u64; 6];
    for offset in &mut offsets {
        *offset = at;
        at = at.checked_add(region).ok_or_else(overflow)?;
    }
    Ok(offsets)
}

/// Total file length for a capacity.
pub fn file_len(capacity_rows: u64) -> Result<u64, SlotError> {
    let offsets = column_offsets(capacity_rows)?;
    let region = capacity_rows.saturating_mul(8).next_multiple_of(PAGE);
    offsets[5]
        .checked_add(region)
        .ok_or_else(|| invalid("capacity_rows", format!("{capacity_rows} is too large")))
}

/// Picks the slot to trust: the valid one with the higher sequence number. `Err` carries both
/// reasons when neither slot is usable.
pub fn choose_slot(
    a: Result<Header, SlotError>,
    b: Result<Header, SlotError>,
) -> Result<(usize, Header), (SlotError, SlotError)> {
    match (a, b) {
        (Ok(a), Ok(b)) if b.sequence > a.sequence => Ok((1, b)),
        (Ok(a), _) => Ok((0, a)),
        (Err(_), Ok(b)) => Ok((1, b)),
        (Err(ea), Err(eb)) => Err((ea, eb)),
    }
}

fn invalid(field: &'static str, detail: String) -> SlotError {
    SlotError::Invalid { field, detail }
}

fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// Sequential little-endian writes into a slot buffer (all within `SLOT_SIZE` by layout).
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
}

/// Sequential little-endian reads from a slot (the layout ends well before the checksum).
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let out = &self.buf[self.at..self.at + n];
        self.at += n;
        out
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(to_array(self.bytes(2)))
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(to_array(self.bytes(4)))
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(to_array(self.bytes(8)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        let mut h = Header::new("EURUSD", 900, 200_000);
        h.sequence = 7;
        h.committed_rows = 131_073;
        h.sealed_blocks = 2;
        h.first_ts = 1_600_000_000_000_000_000;
        h.last_ts = 1_700_000_000_000_000_000;
        h.tail_checksums = [1, 2, 3, 4, 5, 6];
        h.chain_hash = 0xDEAD_BEEF;
        h.writer_pid = 4242;
        h.synced_rows = h.committed_rows;
        h
    }

    #[test]
    fn round_trip() {
        let mut h = sample();
        let bytes = h.encode().unwrap();
        assert_eq!(&bytes[..8], &MAGIC);
        assert_eq!(Header::decode(&bytes[..]).unwrap(), h);
        // An unsynced commit keeps its own synced_rows; more than committed is refused.
        h.features.compat |= COMPAT_UNSYNCED;
        h.synced_rows = 65_536;
        assert_eq!(Header::decode(&h.encode().unwrap()[..]).unwrap(), h);
        h.synced_rows = h.committed_rows + 1;
        assert!(Header::decode(&h.encode().unwrap()[..]).is_err());
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = sample().encode().unwrap();
        for bit in 0..SLOT_SIZE * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(
                Header::decode(&damaged[..]).is_err(),
                "bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn short_foreign_and_future_slots_are_refused() {
        let bytes = sample().encode().unwrap();
        assert_eq!(Header::decode(&bytes[..100]), Err(SlotError::Short));
        assert_eq!(Header::decode(&[0u8; SLOT_SIZE]), Err(SlotError::BadMagic));
        let mut future = bytes.clone();
        future[8..10].copy_from_slice(&2u16.to_le_bytes());
        let sum = xxh3_64(&future[..CHECKSUM_AT]);
        future[CHECKSUM_AT..].copy_from_slice(&sum.to_le_bytes());
        assert!(matches!(
            Header::decode(&future[..]),
            Err(SlotError::UnsupportedVersion { major: 2, .. })
        ));
        let mut h = sample();
        h.features.incompat = 0b100;
        let flagged = h.encode().unwrap();
        assert_eq!(
            Header::decode(&flagged[..]),
            Err(SlotError::IncompatibleFeatures(0b100))
        );
        h.features = Features {
            compat: 1,
            ..Features::default()
        };
        assert!(
            Header::decode(&h.encode().unwrap()[..]).is_ok(),
            "unknown compat bits are fine"
        );
    }

    #[test]
    fn inconsistent_fields_are_refused_even_with_a_valid_checksum() {
        let mut h = sample();
        h.committed_rows = h.capacity_rows + 1;
        assert!(matches!(
            Header::decode(&h.encode().unwrap()[..]),
            Err(SlotError::Invalid {
                field: "committed_rows",
                ..
            })
        ));
        let mut h = sample();
        h.sealed_blocks = 5;
        assert!(Header::decode(&h.encode().unwrap()[..]).is_err());
        assert!(Header::new(&"x".repeat(65), 60, 10).encode().is_err());
        assert!(column_offsets(u64::MAX / 4).is_err());
    }

    #[test]
    fn the_newest_valid_slot_wins() {
        let older = sample();
        let mut newer = sample();
        newer.sequence += 1;
        let (slot, h) = choose_slot(Ok(older.clone()), Ok(newer.clone())).unwrap();
        assert_eq!((slot, h.sequence), (1, 8));
        let (slot, _) = choose_slot(Ok(older.clone()), Err(SlotError::BadChecksum)).unwrap();
        assert_eq!(slot, 0);
        let (slot, _) = choose_slot(Err(SlotError::BadChecksum), Ok(older)).unwrap();
        assert_eq!(slot, 1);
        assert!(choose_slot(Err(SlotError::Short), Err(SlotError::BadMagic)).is_err());
    }

    #[test]
    fn layout_is_page_aligned_and_covers_the_capacity() {
        for capacity in [0, 1, 511, 512, 65_536, 65_537, 10_000_000] {
            let offsets = column_offsets(capacity).unwrap();
            assert!(offsets.iter().all(|o| o % PAGE == 0 && *o >= TABLE_OFFSET));
            for pair in offsets.windows(2) {
                assert!(pair[1] - pair[0] >= capacity * 8);
            }
            assert!(file_len(capacity).unwrap() >= offsets[5] + capacity * 8);
        }
    }
}
