//! Structure-aware fuzzing of every decoder of bytes from disk, on the stable toolchain
//! (`storage-and-cache.md` T2; cargo-fuzz needs a nightly compiler, which cannot be installed
//! here). Each harness starts from valid files ictcore wrote, mutates them the way damage and
//! attackers do — bit flips, fields overwritten with extreme values, truncation, and
//! checksums recomputed afterwards (xxh3 is an integrity check, not an authentication) — and
//! asserts that the decoder never panics, never aborts on an allocation, and never returns
//! different data for data it could not have verified.
//!
//! CI runs `ICTCORE_FUZZ_CASES` cases per harness (default 300); a deep run is
//! `ICTCORE_FUZZ_CASES=100000 cargo test -p ictcore --release fuzz_` (minutes).

use crate::cache::entry::{self, EntryMeta};
use crate::cache::Key;
use crate::candles::Candles;
use crate::store::header::{SLOT_OFFSETS, SLOT_SIZE};
use crate::store::{parse_csv, Durability, SeriesReader, SeriesWriter, VolumeColumn};
use crate::table::{Column, Dtype, ResultTable};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::path::PathBuf;
use xxhash_rust::xxh3::xxh3_64;

pub(crate) fn cases() -> u32 {
    std::env::var("ICTCORE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ictcore-fuzz-{name}-{}-{}",
        std::process::id(),
        crate::error::now_ns()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Values that break careless arithmetic.
fn extreme() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX - 7),
        Just(i64::MAX as u64),
        Just(1 << 63),
        (0u32..64).prop_map(|k| 1u64 << k),
        (0u32..64).prop_map(|k| (1u64 << k).wrapping_sub(1)),
        any::<u64>(),
    ]
}

/// One damage: flip a bit, overwrite 8 bytes with an extreme value (at a field, for
/// `fields`), or overwrite a run of bytes with one value.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Field(usize, u64),
    Fill(usize, usize, u8),
}

fn damages(len: usize, fields: Vec<usize>) -> impl Strategy<Value = Vec<Damage>> {
    let fields = if fields.is_empty() { vec![0] } else { fields };
    let one = prop_oneof![
        (0..len, 0u8..8).prop_map(|(at, bit)| Damage::Flip(at, bit)),
        (proptest::sample::select(fields), extreme()).prop_map(|(at, v)| Damage::Field(at, v)),
        (0..len, 1usize..600, any::<u8>()).prop_map(|(at, n, b)| Damage::Fill(at, n, b)),
    ];
    proptest::collection::vec(one, 1..4)
}

fn apply(bytes: &mut [u8], damage: &[Damage]) {
    for d in damage {
        match *d {
            Damage::Flip(at, bit) => {
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << bit;
                }
            }
            Damage::Field(at, v) => {
                let end = (at + 8).min(bytes.len());
                if at < end {
                    bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
                }
            }
            Damage::Fill(at, n, b) => {
                let end = at.saturating_add(n).min(bytes.len());
                if at < end {
                    bytes[at..end].fill(b);
                }
            }
        }
    }
}

// -- series files ----------------------------------------------------------------------------

/// Byte offsets of the header fields a reader relies on, in both slots.
fn header_fields() -> Vec<usize> {
    let within = [24, 32, 232, 240, 248, 256, 264, 272, 280, 336, 360, 432];
    SLOT_OFFSETS
        .iter()
        .flat_map(|&slot| within.iter().map(move |&f| slot as usize + f))
        .collect()
}

/// Recomputes both slot checksums (a crafted file, not just a damaged one).
fn reseal_slots(bytes: &mut [u8]) {
    for &slot in &SLOT_OFFSETS {
        let slot = slot as usize;
        if bytes.len() >= slot + SLOT_SIZE {
            let sum = xxh3_64(&bytes[slot..slot + SLOT_SIZE - 8]);
            bytes[slot + SLOT_SIZE - 8..slot + SLOT_SIZE].copy_from_slice(&sum.to_le_bytes());
        }
    }
}

/// A valid series file of `rows` rows (times 0.., prices varying) and its columns.
fn series_file(rows: usize, capacity: u64) -> (Vec<u8>, Vec<i64>, Vec<f64>) {
    let d = dir("base");
    let path = d.join("s.ictc");
    let time: Vec<i64> = (0..rows as i64).map(|i| (i + 1) * 60_000_000_000).collect();
    let price: Vec<f64> = (0..rows).map(|i| 1.0 + (i % 89) as f64 * 1e-4).collect();
    let mut w = SeriesWriter::create(&path, "EURUSD", 60, capacity).unwrap();
    let half = rows / 2;
    for (lo, hi) in [(0, half), (half, rows)] {
        let c = Candles::new(
            &time[lo..hi],
            &price[lo..hi],
            &price[lo..hi],
            &price[lo..hi],
            &price[lo..hi],
            &price[lo..hi],
        )
        .unwrap();
        w.append(&c, Durability::Os).unwrap();
    }
    drop(w);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(d).unwrap();
    (bytes, time, price)
}

/// Opens a damaged file every way ictcore does. Panics only if a decoder panics, or if data
/// that fails its checksums is served as if it were the original.
fn exercise_series(
    path: &std::path::Path,
    original: &[u8],
    time: &[i64],
    price: &[f64],
    resealed: bool,
) {
    if let Ok(r) = SeriesReader::open(path) {
        let _ = r.verify();
        let _ = r.refreshed();
        r.prefetch();
        if r.check_blocks().is_ok() && !resealed {
            // Without recomputed checksums, verified rows must be the rows written.
            let rows = r.header().committed_rows as usize;
            if rows <= time.len() {
                assert_eq!(r.time().unwrap(), &time[..rows]);
                for c in 1..6 {
                    assert_eq!(r.values(c).unwrap(), &price[..rows]);
                }
            }
        }
    }
    if let Ok(mut w) = SeriesWriter::open(path) {
        let last = w.header().last_ts;
        if let Some(next) = last.checked_add(60_000_000_000) {
            let t = [next];
            let p = [1.0];
            let c = Candles::new(&t, &p, &p, &p, &p, &p).unwrap();
            let _ = w.append(&c, Durability::Os);
        }
    }
    let _ = original;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Store header, sealed-block table and data regions of a small file.
    #[test]
    fn fuzz_series_file(damage in damages(60_000, header_fields()), reseal in any::<bool>(), cut in proptest::option::weighted(0.1, 0usize..60_000)) {
        thread_local! {
            static BASE: (Vec<u8>, Vec<i64>, Vec<f64>) = series_file(300, 1000);
        }
        BASE.with(|(base, time, price)| {
            let mut bytes = base.clone();
            apply(&mut bytes, &damage);
            if reseal {
                reseal_slots(&mut bytes);
            }
            if let Some(len) = cut {
                bytes.truncate(len);
            }
            let d = dir("series");
            let path = d.join("s.ictc");
            std::fs::write(&path, &bytes).unwrap();
            exercise_series(&path, base, time, price, reseal);
            std::fs::remove_dir_all(d).unwrap();
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 10 + 1, failure_persistence: None, ..ProptestConfig::default() })]

    /// A file with a sealed block (so the checksum table is used), damaged anywhere in its
    /// header, table or first rows of each column.
    #[test]
    fn fuzz_series_file_with_a_sealed_block(damage in damages(1 << 20, header_fields()), reseal in any::<bool>()) {
        thread_local! {
            static BASE: (Vec<u8>, Vec<i64>, Vec<f64>) = series_file(65_600, 65_700);
        }
        BASE.with(|(base, time, price)| {
            let mut bytes = base.clone();
            apply(&mut bytes, &damage);
            if reseal {
                reseal_slots(&mut bytes);
            }
            let d = dir("sealed");
            let path = d.join("s.ictc");
            std::fs::write(&path, &bytes).unwrap();
            exercise_series(&path, base, time, price, reseal);
            std::fs::remove_dir_all(d).unwrap();
        });
    }
}

// -- cache entries -----------------------------------------------------------------------------

/// Entries whose columns take every filter (runs, delta, raw) and every dtype.
fn entries() -> Vec<(Key, ResultTable, Vec<u8>)> {
    let runs: Vec<f64> = (0..5000)
        .map(|i| if i % 400 == 0 { i as f64 } else { f64::NAN })
        .collect();
    let delta: Vec<f64> = (0..3000).map(f64::from).collect();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..4000)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    let tables = vec![
        ResultTable {
            columns: vec![
                Column::f64("runs", runs),
                Column::f64("delta", delta),
                Column::from_bytes("noise", Dtype::I64, &noise).unwrap(),
                Column::from_bytes("flag", Dtype::Bool, &[1, 0, 1]).unwrap(),
                Column::from_bytes("small", Dtype::I32, &[1, 0, 0, 0, 9, 0, 0, 0]).unwrap(),
            ],
            meta: vec![("windows".into(), "asian,ny_am".into())],
        },
        ResultTable::default(),
    ];
    let meta = EntryMeta {
        detector: "native.fuzz".into(),
        created_ns: 1,
        compute_ns: 2,
    };
    tables
        .into_iter()
        .enumerate()
        .map(|(i, table)| {
            let key = Key([i as u8 + 1; 16]);
            let bytes = entry::encode(&key, &table, &meta).bytes;
            (key, table, bytes)
        })
        .collect()
}

/// Where the header ends (the header checksum's offset) and the length fields are, walking
/// an entry as the decoder does; None if the walk leaves the bytes.
fn entry_layout(bytes: &[u8]) -> Option<(usize, Vec<usize>)> {
    let u16_at =
        |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize);
    let mut at = 8 + 2 + 16 + 16;
    let mut fields = vec![10, 26, 34];
    for _ in 0..2 {
        fields.push(at);
        at += 2 + u16_at(at)?;
    }
    fields.push(at);
    let columns = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?);
    at += 4;
    for _ in 0..columns.min(64) {
        fields.push(at);
        at += 2 + u16_at(at)? + 2;
        fields.push(at - 2);
        fields.push(at);
        fields.push(at + 8);
        at += 16;
    }
    fields.push(at);
    fields.push(at + 8);
    Some((at + 16, fields))
}

/// Recomputes an entry's payload checksums and header checksum after a crafted edit.
fn reseal_entry(bytes: &mut [u8], payload_too: bool) {
    let Some((sum_at, _)) = entry_layout(bytes) else {
        return;
    };
    if sum_at + 8 > bytes.len() {
        return;
    }
    if payload_too {
        let payload = xxh3_64(&bytes[sum_at + 8..]);
        bytes[sum_at - 16..sum_at - 8].copy_from_slice(&payload.to_le_bytes());
    }
    let sum = xxh3_64(&bytes[..sum_at]);
    bytes[sum_at..sum_at + 8].copy_from_slice(&sum.to_le_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() * 4, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every damage to an entry is refused or harmless; a crafted one (checksums recomputed)
    /// never panics or allocates beyond what its bytes can hold.
    #[test]
    fn fuzz_cache_entry(which in 0usize..2, seed in any::<u64>(), reseal in 0u8..3, cut in proptest::option::weighted(0.1, 0usize..5000)) {
        thread_local! {
            static BASE: Vec<(Key, ResultTable, Vec<u8>)> = entries();
        }
        BASE.with(|base| {
            let (key, table, good) = &base[which];
            let (_, fields) = entry_layout(good).unwrap();
            let mut runner = proptest::test_runner::TestRunner::new_with_rng(
                ProptestConfig::default(),
                proptest::test_runner::TestRng::from_seed(
                    proptest::test_runner::RngAlgorithm::ChaCha,
                    &{
                        let mut s = [0u8; 32];
                        s[..8].copy_from_slice(&seed.to_le_bytes());
                        s
                    },
                ),
            );
            let damage = damages(good.len(), fields)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let mut bytes = good.clone();
            apply(&mut bytes, &damage);
            if reseal > 0 {
                reseal_entry(&mut bytes, reseal == 2);
            }
            if let Some(len) = cut {
                bytes.truncate(len);
            }
            match entry::decode(&bytes, key) {
                Ok((back, _)) if reseal == 0 => prop_assert_eq!(&back, table),
                _ => {}
            }
            Ok(())
        })?;
    }
}

// -- CSV ---------------------------------------------------------------------------------------

/// Bytes that matter to a CSV reader.
fn csv_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        proptest::sample::select(b",;\t\n\r\". -+:eE0123456789<>TZ".to_vec()),
        any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// MT5 exports and plain CSVs, damaged byte by byte: parsed or refused with an error,
    /// never a panic; what is accepted is a valid series.
    #[test]
    fn fuzz_csv(mt5 in any::<bool>(), rows in 0usize..40, edits in proptest::collection::vec((0usize..4000, 0u8..3, csv_byte()), 0..8)) {
        let mut text = if mt5 {
            String::from("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n")
        } else {
            String::from("Date,Open,High,Low,Close,Volume\n")
        };
        for i in 0..rows {
            let (h, m) = (i / 60, i % 60);
            if mt5 {
                text.push_str(&format!("2024.01.02\t{h:02}:{m:02}:00\t1.1\t1.2\t1.0\t1.1\t{i}\t0\t3\n"));
            } else {
                text.push_str(&format!("2024-01-02 {h:02}:{m:02}:00,1.1,1.2,1.0,1.1,{i}\n"));
            }
        }
        let mut bytes = text.into_bytes();
        for (at, op, b) in edits {
            let at = at.min(bytes.len());
            match op {
                0 => bytes.insert(at, b),
                1 if at < bytes.len() => { bytes.remove(at); }
                _ => if let Some(x) = bytes.get_mut(at) { *x = b },
            }
        }
        let d = dir("csv");
        let path = d.join("EURUSD_M1.csv");
        std::fs::write(&path, &bytes).unwrap();
        let zones = [
            crate::store::SourceZone::Utc,
            crate::store::SourceZone::Fixed(-3600),
            crate::store::SourceZone::Named { zone: chrono_tz::Europe::Athens, shift: 7 * 3600 },
        ];
        for volume in [VolumeColumn::Auto, VolumeColumn::Zero, VolumeColumn::Named("vol".into())] {
            for zone in zones {
                if let Ok(p) = parse_csv(&path, &volume, zone) {
                    prop_assert!(Candles::new(&p.time, &p.open, &p.high, &p.low, &p.close, &p.volume).is_ok());
                }
            }
        }
        std::fs::remove_dir_all(d).unwrap();
    }
}
