//! The one error type of the core. Every variant carries the context a user needs to find the
//! problem (column, row, path, symbol/timeframe); the bindings map variants to Python
//! exceptions in exactly one place (`python/src/errors.rs`).

use std::path::PathBuf;

/// Result alias used throughout the core.
pub type Result<T, E = IctError> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum IctError {
    /// Two input columns that must be parallel have different lengths.
    #[error("column '{column}' has {got} rows, expected {expected} (the length of '{reference}')")]
    LengthMismatch {
        column: String,
        reference: String,
        expected: usize,
        got: usize,
    },
    /// A price or volume is NaN or infinite.
    #[error("column '{column}' has a non-finite value ({value}) at row {row}")]
    NonFinite {
        column: String,
        row: usize,
        value: f64,
    },
    /// A time column is not strictly increasing.
    #[error(
        "column '{column}' must be strictly increasing: row {row} ({}) is {relation} row {previous_row} ({})",
        format_nanos(*value),
        format_nanos(*previous)
    )]
    NotIncreasing {
        column: String,
        row: usize,
        previous_row: usize,
        value: i64,
        previous: i64,
        relation: &'static str,
    },
    /// An append whose first time does not come after the stored last time.
    #[error(
        "column 'time': row {row} ({}) does not come after the stored last time ({}); appended rows must continue the series (write() replaces it)",
        format_nanos(*value),
        format_nanos(*last)
    )]
    Overlap { row: usize, value: i64, last: i64 },
    /// A parameter value is out of its domain (bad alias, unknown session, NaN, ...).
    #[error("invalid parameter '{name}': {message}")]
    InvalidParameter { name: String, message: String },
    /// A name that must come from a fixed table (a session, a frequency alias) is not in it.
    #[error("unknown {what} '{name}'; known: {}", known.join(", "))]
    UnknownName {
        what: &'static str,
        name: String,
        known: Vec<String>,
    },
    /// A required input column is absent.
    #[error("missing column '{column}': {message}")]
    MissingColumn { column: String, message: String },
    /// A line of a text file (CSV) that cannot be read as candles.
    #[error("{}, line {line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A file or directory that should exist does not.
    #[error("no such file or directory: {}", path.display())]
    NotFound { path: PathBuf },
    /// A file exists but its contents are damaged, truncated or foreign.
    #[error("corrupt file {}: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// An operating-system I/O error on a known path.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Any of the above, for one (symbol, timeframe) series of a batch.
    #[error("{symbol} {timeframe}: {source}")]
    InSeries {
        symbol: String,
        timeframe: String,
        #[source]
        source: Box<IctError>,
    },
    /// A computation asked its own cache for the key it is computing (it would wait for
    /// itself forever).
    #[error("re-entrant cache request: computing {detector} key {key} asked the same cache for the same key (it would wait for itself forever); compute it without the cache, or under another key")]
    Reentrant { detector: String, key: String },
    /// Work that was cancelled before it ran.
    #[error("cancelled: {what}")]
    Cancelled { what: String },
    /// A bug: an invariant of ictcore itself did not hold (a caught panic ends up here too).
    #[error("internal error in {context}: {message}")]
    Internal { context: String, message: String },
}

impl Clone for IctError {
    /// A copy (an I/O error is rebuilt from its kind and message: `std::io::Error` has no
    /// `Clone`), so one failure can be reported to every caller waiting on it.
    fn clone(&self) -> Self {
        match self {
            Self::LengthMismatch {
                column,
                reference,
                expected,
                got,
            } => Self::LengthMismatch {
                column: column.clone(),
                reference: reference.clone(),
                expected: *expected,
                got: *got,
            },
            Self::NonFinite { column, row, value } => Self::NonFinite {
                column: column.clone(),
                row: *row,
                value: *value,
            },
            Self::NotIncreasing {
                column,
                row,
                previous_row,
                value,
                previous,
                relation,
            } => Self::NotIncreasing {
                column: column.clone(),
                row: *row,
                previous_row: *previous_row,
                value: *value,
                previous: *previous,
                relation,
            },
            Self::Overlap { row, value, last } => Self::Overlap {
                row: *row,
                value: *value,
                last: *last,
            },
            Self::InvalidParameter { name, message } => Self::InvalidParameter {
                name: name.clone(),
                message: message.clone(),
            },
            Self::UnknownName { what, name, known } => Self::UnknownName {
                what,
                name: name.clone(),
                known: known.clone(),
            },
            Self::MissingColumn { column, message } => Self::MissingColumn {
                column: column.clone(),
                message: message.clone(),
            },
            Self::Parse {
                path,
                line,
                message,
            } => Self::Parse {
                path: path.clone(),
                line: *line,
                message: message.clone(),
            },
            Self::NotFound { path } => Self::NotFound { path: path.clone() },
            Self::Corrupt { path, detail } => Self::Corrupt {
                path: path.clone(),
                detail: detail.clone(),
            },
            Self::Io { path, source } => Self::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Self::InSeries {
                symbol,
                timeframe,
                source,
            } => Self::InSeries {
                symbol: symbol.clone(),
                timeframe: timeframe.clone(),
                source: source.clone(),
            },
            Self::Cancelled { what } => Self::Cancelled { what: what.clone() },
            Self::Reentrant { detector, key } => Self::Reentrant {
                detector: detector.clone(),
                key: key.clone(),
            },
            Self::Internal { context, message } => Self::Internal {
                context: context.clone(),
                message: message.clone(),
            },
        }
    }
}

impl IctError {
    /// Shorthand for [`IctError::InvalidParameter`].
    pub fn parameter(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.into(),
            message: message.into(),
        }
    }

    /// Adds the (symbol, timeframe) of the series the error happened in.
    pub fn in_series(self, symbol: impl Into<String>, timeframe: impl Into<String>) -> Self {
        if matches!(self, Self::InSeries { .. }) {
            return self; // the innermost series is the one that failed
        }
        Self::InSeries {
            symbol: symbol.into(),
            timeframe: timeframe.into(),
            source: Box::new(self),
        }
    }

    /// The error without its series context.
    pub fn root(&self) -> &IctError {
        match self {
            Self::InSeries { source, .. } => source.root(),
            other => other,
        }
    }

    /// True for errors caused by the caller's input (they map to Python's `ValueError`).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self.root(),
            Self::LengthMismatch { .. }
                | Self::NonFinite { .. }
                | Self::NotIncreasing { .. }
                | Self::Overlap { .. }
                | Self::InvalidParameter { .. }
                | Self::UnknownName { .. }
                | Self::Parse { .. }
        )
    }
}

/// Maps an `std::io::Error` on `path`: a missing file is [`IctError::NotFound`] (the path
/// kept, which std's own conversion loses), anything else [`IctError::Io`].
pub fn io_error(path: &std::path::Path) -> impl Fn(std::io::Error) -> IctError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            IctError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            IctError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// Nanoseconds since the epoch now (0 before 1970, saturating far in the future).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The message of a caught panic's payload (a `&str` or `String`, as `panic!` makes them).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string())
}

/// Formats int64 nanoseconds since the epoch as an ISO-8601 UTC time for error messages
/// (falling back to the raw number outside chrono's range).
pub fn format_nanos(nanos: i64) -> String {
    let dt = chrono::DateTime::from_timestamp_nanos(nanos);
    dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_context_prefixes_the_message_and_keeps_the_kind() {
        let err = IctError::NonFinite {
            column: "close".into(),
            row: 7,
            value: f64::NAN,
        }
        .in_series("EURUSD", "15m");
        assert_eq!(
            err.to_string(),
            "EURUSD 15m: column 'close' has a non-finite value (NaN) at row 7"
        );
        assert!(err.is_invalid_input());
        assert!(matches!(err.root(), IctError::NonFinite { row: 7, .. }));
    }

    #[test]
    fn nanoseconds_format_as_utc_times() {
        assert_eq!(format_nanos(0), "1970-01-01T00:00:00");
        assert_eq!(
            format_nanos(1_704_067_200_500_000_000),
            "2024-01-01T00:00:00.500"
        );
    }
}
