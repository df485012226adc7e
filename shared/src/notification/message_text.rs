//! Tolerant reading of the human-readable SNS message text ("... Resource ARN : arn:... . BackupJob
//! ID : ..."). Labels vary between senders and over time, so this only ever adds optional context.

pub(super) struct MessageText<'a> {
    text: &'a str,
}

impl<'a> MessageText<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// The word after the first of `labels` that occurs followed by ':' (spaces around the colon
    /// allowed), without sentence punctuation. Labels are tried in order, so list longer ones first.
    pub(super) fn value_after(&self, labels: &[&str]) -> Option<&'a str> {
        labels.iter().find_map(|label| self.find_value(label))
    }

    fn find_value(&self, label: &str) -> Option<&'a str> {
        let lower = self.text.to_ascii_lowercase();
        let label = label.to_ascii_lowercase();
        let mut from = 0;
        while let Some(found) = lower[from..].find(&label) {
            let after_label = from + found + label.len();
            let rest = self.text[after_label..].trim_start();
            if let Some(value) = rest.strip_prefix(':') {
                let word = value.split_whitespace().next()?;
                let word = word.trim_end_matches(['.', ',', ';']);
                return (!word.is_empty()).then_some(word);
            }
            from = after_label;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::MessageText;

    #[test]
    fn label_variants_are_read() {
        let aws = "An AWS Backup job was completed successfully. Recovery point ARN: arn:aws:backup:us-east-1:1:recovery-point:RP. Resource ARN : arn:aws:ec2:us-east-1:1:volume/vol-1. BackupJob ID : 8A9C";
        let text = MessageText::new(aws);
        assert_eq!(text.value_after(&["Recovery point ARN"]), Some("arn:aws:backup:us-east-1:1:recovery-point:RP"));
        assert_eq!(
            text.value_after(&["Backed up Resource ARN", "Resource ARN"]),
            Some("arn:aws:ec2:us-east-1:1:volume/vol-1")
        );

        let variant = MessageText::new("Backed up Resource ARN : arn:aws:rds:x:1:db:main, Backup Job Id : 1");
        assert_eq!(variant.value_after(&["Backed up Resource ARN", "Resource ARN"]), Some("arn:aws:rds:x:1:db:main"));
        assert_eq!(variant.value_after(&["Recovery point ARN"]), None);
        assert_eq!(MessageText::new("Resource ARN").value_after(&["Resource ARN"]), None);
        assert_eq!(MessageText::new("Resource ARN :   ").value_after(&["Resource ARN"]), None);
    }
}
