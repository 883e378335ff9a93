//! Event severity: typed for the usual levels, open for any other text.

use std::fmt;

use smol_str::SmolStr;

/// How serious an event is.
///
/// The reference stores severity as free text; `info`, `warning` and
/// `error` are the values it uses. Any other text read from a log is kept
/// in [`Severity::Other`] and written back unchanged.
///
/// ```
/// use agent_audit::Severity;
/// assert_eq!(Severity::from("warning"), Severity::Warning);
/// assert_eq!(Severity::from("critical").as_str(), "critical");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Severity {
    /// `"info"`: the default of most event types.
    #[default]
    Info,
    /// `"warning"`.
    Warning,
    /// `"error"`.
    Error,
    /// Any other text. Never holds `info`, `warning` or `error`: those
    /// always map to their own variants.
    Other(SmolStr),
}

impl Severity {
    /// The text written to the log.
    pub fn as_str(&self) -> &str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Other(s) => s,
        }
    }
}

impl From<&str> for Severity {
    fn from(s: &str) -> Self {
        match s {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            other => Severity::Other(other.into()),
        }
    }
}

impl From<SmolStr> for Severity {
    fn from(s: SmolStr) -> Self {
        match s.as_str() {
            "info" | "warning" | "error" => Severity::from(s.as_str()),
            _ => Severity::Other(s),
        }
    }
}

impl From<String> for Severity {
    fn from(s: String) -> Self {
        Severity::from(SmolStr::from(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
