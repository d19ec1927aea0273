//! The candle store: one memory-mappable file per (symbol, timeframe).
//!
//! Format and protocol follow `storage-and-cache.md` §2.1-2.3: [`header`] is the on-disk
//! header (two checksummed slots; the valid one with the higher sequence number is trusted,
//! so a torn header write can never be read as a commit), [`series`] one file's writer and
//! readers, [`directory`] the store: naming, one writer per series (lock file), listing and
//! verification, [`csv_import`] CSV parsing. Batch loads and the command line come next.

pub mod csv_import;
pub mod directory;
pub mod fs_kind;
pub mod header;
pub mod overlap;
pub mod series;
pub mod source_zone;
pub mod spacing;

pub use csv_import::{parse_csv, ParsedCsv, VolumeColumn};
pub use directory::{timeframe_seconds, IfExists, ImportOptions, Imported, SeriesInfo, Store};
pub use header::{choose_slot, Header, SlotError};
pub use overlap::OnOverlap;
pub use series::{Damage, Durability, SeriesReader, SeriesWriter};
pub use source_zone::SourceZone;
