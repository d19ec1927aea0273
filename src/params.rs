//! Typed reads of the compat detectors' parameters (as the cache key records them): defaults
//! for missing ones, errors naming the detector and parameter, and unknown parameters refused.
//! (The native detectors' parameters are checked by their declarations, `detect::registry`.)

use crate::error::{IctError, Result};
use crate::param::Param;

/// Typed parameter reads that name the detector and parameter in their errors.
pub struct Params<'a> {
    detector: &'a str,
    given: Vec<(String, Param)>,
}

impl<'a> Params<'a> {
    pub fn new(detector: &'a str, given: Vec<(String, Param)>) -> Self {
        Self { detector, given }
    }
}

impl Params<'_> {
    /// The parameter's value as a plain one (a numpy scalar or an int subclass as the int,
    /// float, bool or str it holds: detectors read values, the cache key keeps the types).
    fn take(&mut self, name: &str) -> Option<Param> {
        let at = self.given.iter().position(|(n, _)| n == name)?;
        Some(self.given.swap_remove(at).1.plain().clone())
    }

    fn wrong(&self, name: &str, want: &str, got: &Param) -> IctError {
        IctError::parameter(
            format!("{}.{name}", self.detector),
            format!("expected {want}, got {got}"),
        )
    }

    pub fn bool(&mut self, name: &str, default: bool) -> Result<bool> {
        match self.take(name) {
            None => Ok(default),
            Some(Param::Bool(b)) => Ok(b),
            Some(other) => Err(self.wrong(name, "a bool", &other)),
        }
    }

    pub fn length(&mut self, name: &str, default: i64) -> Result<usize> {
        let v = match self.take(name) {
            None => default,
            Some(Param::Int(v)) => v,
            Some(other) => return Err(self.wrong(name, "an int", &other)),
        };
        usize::try_from(v).map_err(|_| {
            IctError::parameter(
                format!("{}.{name}", self.detector),
                format!("{v} is negative"),
            )
        })
    }

    /// A float as the library takes it: NaN and infinities too (smartmoneyconcepts computes
    /// with them, so the compat detectors do; the key records the exact bits).
    pub fn float(&mut self, name: &str, default: f64) -> Result<f64> {
        match self.take(name) {
            None => Ok(default),
            Some(Param::Float(v)) => Ok(v),
            Some(Param::Int(v)) => Ok(v as f64),
            Some(other) => Err(self.wrong(name, "a float", &other)),
        }
    }

    pub fn string(&mut self, name: &str, default: &str) -> Result<String> {
        match self.take(name) {
            None => Ok(default.to_string()),
            Some(Param::Str(s)) => Ok(s),
            Some(other) => Err(self.wrong(name, "a str", &other)),
        }
    }

    /// Refuses parameters nobody read (a typo must not be silently ignored).
    pub fn done(self) -> Result<()> {
        match self.given.first() {
            None => Ok(()),
            Some((name, _)) => Err(IctError::parameter(
                format!("{}.{name}", self.detector),
                "unknown parameter",
            )),
        }
    }
}
