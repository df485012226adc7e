//! Which publishers are trusted: a defence against a spoofed notification (someone who can publish
//! to a subscribed topic, or invoke a function, pretending to be AWS Backup).

use super::{AccountId, DomainError};

/// Allowed SNS topics and accounts. An empty list allows any (used where no notification is read,
/// and in tests); the template always configures both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourcePolicy {
    pub topics: Vec<String>,
    pub accounts: Vec<AccountId>,
}

impl SourcePolicy {
    /// From comma-separated lists (empty entries ignored, so a joined template list may end in ',').
    pub fn parse(topics: &str, accounts: &str) -> Result<Self, DomainError> {
        let entries =
            |raw: &str| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let topics = entries(topics);
        if topics.iter().any(|topic| super::TopicArn::parse(topic).is_err()) {
            return Err(DomainError::invalid("ALLOWED_TOPIC_ARNS", "must list SNS topic ARNs"));
        }
        let accounts = entries(accounts)
            .iter()
            .map(|a| AccountId::parse(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DomainError::invalid("ALLOWED_ACCOUNT_IDS", "must list 12-digit account ids"))?;
        Ok(Self { topics, accounts })
    }

    /// Why a notification from `topic` (SNS only) claiming `account` is not trusted, if it is not.
    pub fn rejects(&self, topic: Option<&str>, account: Option<&AccountId>) -> Option<&'static str> {
        if let Some(topic) = topic {
            if !self.topics.is_empty() && !self.topics.iter().any(|allowed| allowed == topic) {
                return Some("published to a topic that is not an allowed vault topic");
            }
        }
        if !self.accounts.is_empty() && !account.is_some_and(|account| self.accounts.contains(account)) {
            return Some("not from an allowed account");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_topics_and_accounts_pass() {
        let policy = SourcePolicy::parse("arn:aws:sns:us-east-1:123456789012:vault-events,", "123456789012").unwrap();
        let ours = AccountId::parse("123456789012").unwrap();
        let theirs = AccountId::parse("999999999999").unwrap();
        assert_eq!(policy.rejects(Some("arn:aws:sns:us-east-1:123456789012:vault-events"), Some(&ours)), None);
        assert!(policy.rejects(Some("arn:aws:sns:us-east-1:123456789012:other"), Some(&ours)).is_some());
        assert!(policy.rejects(None, Some(&theirs)).is_some());
        assert!(policy.rejects(None, None).is_some(), "a notification that names no account is not trusted");
        assert_eq!(SourcePolicy::default().rejects(Some("anything"), None), None);
        assert!(SourcePolicy::parse("not-a-topic", "").is_err());
        assert!(SourcePolicy::parse("", "12").is_err());
    }
}
