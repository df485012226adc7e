//! A call an AWS service refused, as the domain keeps it: which call, whether trying again can
//! help, AWS's error code and AWS's own words. The adapters' `AwsError` becomes one at the edge
//! (`ports`); an alert carries it as it is, and the advice reads its fields, not a sentence made
//! of them.

use std::fmt;

use super::Cause;

/// Whether an operation that failed may succeed when tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Transient,
    Permanent,
}

impl fmt::Display for ErrorClass {
    /// The words an operator reads: "transient" (trying again may work), "permanent".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
        })
    }
}

/// A call an AWS service refused (e.g. StartCopyJob, for a retry or a routed copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRefusal {
    pub service: &'static str,
    pub operation: &'static str,
    pub class: ErrorClass,
    /// The service's error code, e.g. "AccessDeniedException".
    pub code: Option<String>,
    /// AWS's message.
    pub message: String,
}

impl ServiceRefusal {
    /// What AWS's code and words name, by the one classifier (`failure.rs`).
    pub fn cause(&self) -> Cause {
        Cause::of_refusal(&self.message, self.code.as_deref())
    }
}

impl fmt::Display for ServiceRefusal {
    /// "backup StartCopyJob failed (permanent, AccessDeniedException): <AWS's message>".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed ({}", self.service, self.operation, self.class)?;
        if let Some(code) = &self.code {
            write!(f, ", {code}")?;
        }
        write!(f, "): {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_words_not_as_debug() {
        assert_eq!(ErrorClass::Transient.to_string(), "transient");
        assert_eq!(ErrorClass::Permanent.to_string(), "permanent");
        let refusal = ServiceRefusal {
            service: "backup",
            operation: "StartCopyJob",
            class: ErrorClass::Permanent,
            code: Some("InvalidRequestException".into()),
            message: "no".into(),
        };
        assert_eq!(refusal.to_string(), "backup StartCopyJob failed (permanent, InvalidRequestException): no");
        assert_eq!(ServiceRefusal { code: None, ..refusal }.to_string(), "backup StartCopyJob failed (permanent): no");
    }
}
