//! Cache keys (`storage-and-cache.md` §2.5): xxh3-128 of a canonical, length-prefixed binary
//! record of everything that decides a result — key-schema version, ictcore and entry-format
//! versions, detector id and mode, typed parameters sorted by name (floats by their bits, NaN
//! refused), and each input column's name, dtype, length and xxh3-128 of its exact bytes.
//! No pickle, no `repr`: the same inputs give the same key in every process and on every OS.

use crate::error::{IctError, Result};
use crate::param::Param;
use crate::table::Dtype;
use std::collections::BTreeMap;
use std::fmt;
use xxhash_rust::xxh3::xxh3_128;

/// Version of the key record layout; bump it when the record changes.
pub const KEY_SCHEMA: u16 = 1;

/// A cache key: 16 bytes, shown as 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 16]);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Key {
    /// The key of 32 hex digits (an entry's file name), if it is one.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

/// The hash of an input column's exact bytes, as keys record it.
pub fn input_hash(bytes: &[u8]) -> [u8; 16] {
    xxh3_128(bytes).to_le_bytes()
}

/// How a key records a parameter value: a type tag, then the value.
impl Param {
    pub(crate) fn tag(&self) -> u8 {
        match self {
            Param::Int(_) => 1,
            Param::Float(_) => 2,
            Param::Bool(_) => 3,
            Param::Str(_) => 4,
            Param::None => 5,
            Param::BigInt(_) => 6,
            Param::Typed(..) => 7,
        }
    }

    pub(crate) fn encode(&self, r: &mut Vec<u8>) {
        r.push(self.tag());
        match self {
            Param::Int(v) => r.extend_from_slice(&v.to_le_bytes()),
            Param::Float(v) => r.extend_from_slice(&v.to_bits().to_le_bytes()),
            Param::Bool(v) => r.push(u8::from(*v)),
            Param::Str(v) | Param::BigInt(v) => put_str(r, v),
            Param::None => {}
            Param::Typed(type_name, inner) => {
                put_str(r, type_name);
                inner.encode(r);
            }
        }
    }
}

/// Builds the key record. Parameters may be added in any order (they are sorted by name);
/// inputs are hashed in the order given, which is part of the detector's contract.
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    detector: String,
    mode: String,
    params: BTreeMap<String, Param>,
    inputs: Vec<(String, Dtype, u64, [u8; 16])>,
    rows: Option<u64>,
}

fn put_str(record: &mut Vec<u8>, s: &str) {
    record.extend_from_slice(&(s.len() as u64).to_le_bytes());
    record.extend_from_slice(s.as_bytes());
}

impl KeyBuilder {
    /// A key for `detector` (e.g. `fvg`) in `mode` (`compat` or `native`).
    pub fn new(detector: &str, mode: &str) -> Self {
        Self {
            detector: detector.to_string(),
            mode: mode.to_string(),
            params: BTreeMap::new(),
            inputs: Vec::new(),
            rows: None,
        }
    }

    /// Adds a parameter; a repeated name is refused. (NaN is keyed by its bits, like every
    /// float: the same NaN finds its result again, and caching never changes what a call
    /// accepts.)
    pub fn param(&mut self, name: &str, value: Param) -> Result<&mut Self> {
        if self.params.insert(name.to_string(), value).is_some() {
            return Err(IctError::parameter(name, "given twice"));
        }
        Ok(self)
    }

    /// Adds an input column by its exact bytes.
    pub fn input(&mut self, name: &str, dtype: Dtype, bytes: &[u8]) -> &mut Self {
        let len = (bytes.len() / dtype.size()) as u64;
        self.rows.get_or_insert(len);
        self.inputs
            .push((name.to_string(), dtype, len, xxh3_128(bytes).to_le_bytes()));
        self
    }

    /// Adds an input column whose bytes were hashed already ([`input_hash`]), so one hash of
    /// a series column serves the keys of every detector reading it.
    pub fn input_hashed(
        &mut self,
        name: &str,
        dtype: Dtype,
        len: u64,
        hash: [u8; 16],
    ) -> &mut Self {
        self.rows.get_or_insert(len);
        self.inputs.push((name.to_string(), dtype, len, hash));
        self
    }

    /// The canonical record.
    pub fn record(&self) -> Vec<u8> {
        self.record_for(crate::VERSION)
    }

    /// The record as ictcore `version` would build it (golden tests pin keys this way).
    fn record_for(&self, version: &str) -> Vec<u8> {
        let mut r = Vec::with_capacity(256);
        r.extend_from_slice(b"ictcore-cache-key");
        r.extend_from_slice(&KEY_SCHEMA.to_le_bytes());
        put_str(&mut r, version);
        put_str(&mut r, &super::ENTRY_FORMAT.to_string());
        put_str(&mut r, &self.detector);
        put_str(&mut r, &self.mode);
        r.extend_from_slice(&(self.params.len() as u64).to_le_bytes());
        for (name, value) in &self.params {
            put_str(&mut r, name);
            value.encode(&mut r);
        }
        r.extend_from_slice(&self.rows.unwrap_or(0).to_le_bytes());
        r.extend_from_slice(&(self.inputs.len() as u64).to_le_bytes());
        for (name, dtype, len, hash) in &self.inputs {
            put_str(&mut r, name);
            r.push(dtype.code());
            r.extend_from_slice(&len.to_le_bytes());
            r.extend_from_slice(hash);
        }
        r
    }

    /// The key.
    pub fn key(&self) -> Key {
        Key(xxh3_128(&self.record()).to_le_bytes())
    }

    /// The detector id and mode, as entries record them (`compat.fvg`).
    pub fn detector_id(&self) -> String {
        format!("{}.{}", self.mode, self.detector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KeyBuilder {
        let mut k = KeyBuilder::new("fvg", "compat");
        k.param("join_consecutive", Param::Bool(false)).unwrap();
        k.input("open", Dtype::F64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        k
    }

    #[test]
    fn parameter_order_does_not_matter_and_types_are_kept() {
        let mut a = KeyBuilder::new("liquidity", "compat");
        a.param("range_percent", Param::Float(0.01)).unwrap();
        a.param("swing_length", Param::Int(5)).unwrap();
        let mut b = KeyBuilder::new("liquidity", "compat");
        b.param("swing_length", Param::Int(5)).unwrap();
        b.param("range_percent", Param::Float(0.01)).unwrap();
        assert_eq!(a.key(), b.key());
        assert!(a.param("swing_length", Param::Int(6)).is_err());
        // Values that compare equal in Python but are of other types never share a key, and
        // integers beyond 64 bits are not rounded.
        let one = |value: Param| {
            let mut k = KeyBuilder::new("d", "native");
            k.param("k", value).unwrap();
            k.key()
        };
        let keys = [
            one(Param::Int(1)),
            one(Param::Float(1.0)),
            one(Param::Bool(true)),
            one(Param::Typed(
                "numpy.bool".into(),
                Box::new(Param::Bool(true)),
            )),
            one(Param::Typed("numpy.int64".into(), Box::new(Param::Int(1)))),
            one(Param::BigInt("18446744073709551617".into())),
            one(Param::BigInt("18446744073709551616".into())),
            one(Param::Float(-0.0)),
            one(Param::Float(0.0)),
            one(Param::Str("1".into())),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // NaN is keyed by its bits: the same NaN finds its entry again.
        assert_eq!(one(Param::Float(f64::NAN)), one(Param::Float(f64::NAN)));
    }

    #[test]
    fn every_part_changes_the_key() {
        let base = sample().key();
        let mut other_detector = KeyBuilder::new("ob", "compat");
        other_detector
            .param("join_consecutive", Param::Bool(false))
            .unwrap();
        other_detector.input("open", Dtype::F64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        let mut other_mode = KeyBuilder::new("fvg", "native");
        other_mode
            .param("join_consecutive", Param::Bool(false))
            .unwrap();
        other_mode.input("open", Dtype::F64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        let mut other_param = KeyBuilder::new("fvg", "compat");
        other_param
            .param("join_consecutive", Param::Bool(true))
            .unwrap();
        other_param.input("open", Dtype::F64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        let mut int_not_float = KeyBuilder::new("fvg", "compat");
        int_not_float
            .param("join_consecutive", Param::Int(0))
            .unwrap();
        int_not_float.input("open", Dtype::F64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        let mut other_bytes = KeyBuilder::new("fvg", "compat");
        other_bytes
            .param("join_consecutive", Param::Bool(false))
            .unwrap();
        other_bytes.input("open", Dtype::F64, bytemuck::cast_slice(&[1.0f64, -2.0]));
        let mut other_dtype = KeyBuilder::new("fvg", "compat");
        other_dtype
            .param("join_consecutive", Param::Bool(false))
            .unwrap();
        other_dtype.input("open", Dtype::I64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        let mut other_name = KeyBuilder::new("fvg", "compat");
        other_name
            .param("join_consecutive", Param::Bool(false))
            .unwrap();
        other_name.input("close", Dtype::F64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        let keys = [
            other_detector.key(),
            other_mode.key(),
            other_param.key(),
            int_not_float.key(),
            other_bytes.key(),
            other_dtype.key(),
            other_name.key(),
        ];
        for (i, k) in keys.iter().enumerate() {
            assert_ne!(*k, base, "variant {i}");
        }
        let zero = KeyBuilder::new("x", "compat")
            .param("p", Param::Float(0.0))
            .unwrap()
            .key();
        let minus = KeyBuilder::new("x", "compat")
            .param("p", Param::Float(-0.0))
            .unwrap()
            .key();
        assert_ne!(zero, minus, "-0.0 is not normalised");
    }

    /// Golden vectors (C2): the record's layout spelled out byte by byte, and its key pinned,
    /// so a change to either (or to the hash crate) cannot slip through: it must come with a
    /// key-schema bump, which makes old entries unreachable instead of wrong.
    #[test]
    fn golden_key_vectors() {
        let mut k = KeyBuilder::new("fvg", "compat");
        k.param("join_consecutive", Param::Bool(false)).unwrap();
        k.param("a", Param::Float(0.5)).unwrap();
        k.input("open", Dtype::F64, bytemuck::cast_slice(&[1.0f64, 2.0]));
        let s = |text: &str| {
            [
                (text.len() as u64).to_le_bytes().to_vec(),
                text.as_bytes().to_vec(),
            ]
            .concat()
        };
        let expected = [
            b"ictcore-cache-key".to_vec(),
            1u16.to_le_bytes().to_vec(),
            s("0.1.0"),
            s("3"), // entry format 3: table metadata
            s("fvg"),
            s("compat"),
            2u64.to_le_bytes().to_vec(),
            s("a"),
            vec![2],
            0.5f64.to_bits().to_le_bytes().to_vec(),
            s("join_consecutive"),
            vec![3, 0],
            2u64.to_le_bytes().to_vec(), // rows
            1u64.to_le_bytes().to_vec(), // inputs
            s("open"),
            vec![1],
            2u64.to_le_bytes().to_vec(),
            xxh3_128(bytemuck::cast_slice(&[1.0f64, 2.0]))
                .to_le_bytes()
                .to_vec(),
        ]
        .concat();
        assert_eq!(k.record_for("0.1.0"), expected);
        assert_eq!(k.record(), k.record_for(crate::VERSION));
        let pinned = Key(xxh3_128(&k.record_for("0.1.0")).to_le_bytes()).to_string();
        assert_eq!(pinned, GOLDEN_KEY);
        assert_eq!(
            Key::from_hex(GOLDEN_KEY).map(|k| k.to_string()).as_deref(),
            Some(GOLDEN_KEY)
        );
        assert_eq!(Key::from_hex("zz"), None);
    }

    /// The key of the golden record with ictcore 0.1.0 and entry format 2 (see
    /// `golden_key_vectors`), computed from the spelled-out record with the reference xxHash
    /// (PyPI `xxhash` 4.1.0, `xxh3_128_intdigest(...).to_bytes(16, "little")`), not with this
    /// code. (Entry format 1 gave 2238311273d40ecaa7173f1943c47259 the same way.)
    const GOLDEN_KEY: &str = "3c5b4facce28a919dfac9ccb72252ba6";

    proptest::proptest! {
        /// Flipping any bit of any input byte changes the key.
        #[test]
        fn any_input_bit_changes_the_key(values in proptest::collection::vec(proptest::num::f64::ANY, 1..64), at in 0usize..512, bit in 0u8..8) {
            let bytes: Vec<u8> = bytemuck::cast_slice(&values).to_vec();
            let at = at % bytes.len();
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            let key = |b: &[u8]| KeyBuilder::new("fvg", "compat").input("open", Dtype::F64, b).key();
            proptest::prop_assert_ne!(key(&bytes), key(&flipped));
        }
    }
}
