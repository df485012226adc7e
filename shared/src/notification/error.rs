use thiserror::Error;

use crate::domain::DomainError;

/// A notification that cannot be understood. Messages name the place and the problem and never
/// include the payload (it may be huge, hostile, or carry data that does not belong in logs).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("the event is neither an SNS event (Records[].Sns) nor an EventBridge event (detail-type)")]
    NotAnEvent,
    #[error("{at}: malformed envelope: {reason}")]
    Envelope { at: String, reason: String },
    #[error("{at}: message is larger than 256 KiB")]
    TooLarge { at: String },
    #[error("{at}: missing {name}")]
    Missing { at: String, name: String },
    #[error("{at}: {source}")]
    Invalid {
        at: String,
        #[source]
        source: DomainError,
    },
}

impl ParseError {
    pub(crate) fn envelope(at: &str, err: &serde_json::Error) -> Self {
        Self::Envelope { at: at.to_owned(), reason: redact(&err.to_string()) }
    }

    /// serde's account of why a message body was refused, fit for a log line: the kind of problem
    /// and where, without the values it quotes.
    pub(crate) fn redacted(err: &serde_json::Error) -> String {
        redact(&err.to_string())
    }

    pub(crate) fn missing(at: &str, name: impl Into<String>) -> Self {
        Self::Missing { at: at.to_owned(), name: name.into() }
    }

    pub(crate) fn invalid(at: &str, source: DomainError) -> Self {
        Self::Invalid { at: at.to_owned(), source }
    }
}

/// serde_json quotes offending values in its messages: keep the kind of problem, drop the values,
/// bound the length.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(200));
    let mut in_quotes = false;
    for c in message.chars() {
        match (c, in_quotes) {
            ('"', false) => {
                out.push_str("\"…");
                in_quotes = true;
            }
            ('"', true) => {
                out.push('"');
                in_quotes = false;
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
        if out.chars().count() >= 200 {
            out.push('…');
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_quoted_values() {
        let err = serde_json::from_str::<u32>("\"secret-value\"").unwrap_err();
        let parsed = ParseError::envelope("Records[0]", &err).to_string();
        assert!(!parsed.contains("secret-value"), "{parsed}");
        assert!(parsed.contains("invalid type"), "{parsed}");
    }
}
