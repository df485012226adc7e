//! AWS Chatbot (Amazon Q Developer in chat applications) custom notifications: the event schema
//! AWS documents (docs/aws-facts.md#chatbot-custom-notifications), as a typed value that can only be
//! built within the limits. Every text is cut on a character boundary, never rejected: an alert
//! that is too long still goes out.

use std::collections::BTreeMap;

use serde::Serialize;

/// `version`: "Must be 1.0."
pub const VERSION: &str = "1.0";
/// `source`: "Must be custom."
pub const SOURCE: &str = "custom";
/// `content.textType`: "Only client-markdown textType is currently supported."
pub const TEXT_TYPE: &str = "client-markdown";

/// Limits of the schema, in characters (docs/aws-facts.md#chatbot-custom-notifications).
pub const TITLE_MAX_CHARS: usize = 250;
pub const DESCRIPTION_MAX_CHARS: usize = 8_000;
pub const NEXT_STEP_MAX_CHARS: usize = 350;
pub const KEYWORD_MAX_CHARS: usize = 75;

/// vaultwatch's own bounds, where AWS states none that could be confirmed: small enough for a chat
/// message, large enough for what an alert carries.
pub const MAX_NEXT_STEPS: usize = 5;
pub const MAX_KEYWORDS: usize = 5;
pub const MAX_RELATED_RESOURCES: usize = 10;
pub const MAX_CONTEXT_ENTRIES: usize = 10;
/// `id`, `threadId`, `summary`, `eventType`, related resources, context keys and values.
pub const SHORT_TEXT_MAX_CHARS: usize = 1_024;

/// `text` cut to at most `max` characters (not bytes), the last one an ellipsis when cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        cut.push('…');
    }
    cut
}

/// A custom notification, serialised exactly as the documented event schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomNotification {
    version: &'static str,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    content: Content,
    metadata: Metadata,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    text_type: &'static str,
    title: String,
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    next_steps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keywords: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    thread_id: String,
    summary: String,
    event_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_resources: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    additional_context: BTreeMap<String, String>,
}

/// Where a notification belongs: its thread (notifications with the same `threadId` are grouped),
/// the summary shown on the thread's top-level message, and its event type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub id: String,
    pub summary: String,
    pub event_type: &'static str,
}

impl CustomNotification {
    pub fn new(title: &str, description: &str, thread: Thread) -> Self {
        let short = |text: &str| truncate_chars(text, SHORT_TEXT_MAX_CHARS);
        Self {
            version: VERSION,
            source: SOURCE,
            id: None,
            content: Content {
                text_type: TEXT_TYPE,
                title: truncate_chars(title, TITLE_MAX_CHARS),
                description: truncate_chars(description, DESCRIPTION_MAX_CHARS),
                next_steps: Vec::new(),
                keywords: Vec::new(),
            },
            metadata: Metadata {
                thread_id: short(&thread.id),
                summary: short(&thread.summary),
                event_type: short(thread.event_type),
                related_resources: Vec::new(),
                additional_context: BTreeMap::new(),
            },
        }
    }

    /// The event's unique identifier.
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = Some(truncate_chars(id, SHORT_TEXT_MAX_CHARS));
        self
    }

    /// Adds a next step (those past [`MAX_NEXT_STEPS`] are left out).
    pub fn next_step(mut self, step: &str) -> Self {
        if self.content.next_steps.len() < MAX_NEXT_STEPS && !step.trim().is_empty() {
            self.content.next_steps.push(truncate_chars(step, NEXT_STEP_MAX_CHARS));
        }
        self
    }

    /// Adds a keyword, once (those past [`MAX_KEYWORDS`] are left out).
    pub fn keyword(mut self, keyword: &str) -> Self {
        let keyword = truncate_chars(keyword, KEYWORD_MAX_CHARS);
        let keywords = &mut self.content.keywords;
        if keywords.len() < MAX_KEYWORDS && !keyword.trim().is_empty() && !keywords.contains(&keyword) {
            keywords.push(keyword);
        }
        self
    }

    /// Adds a related resource (an ARN or id), once.
    pub fn related_resource(mut self, resource: &str) -> Self {
        let resource = truncate_chars(resource, SHORT_TEXT_MAX_CHARS);
        let related = &mut self.metadata.related_resources;
        if related.len() < MAX_RELATED_RESOURCES && !resource.is_empty() && !related.contains(&resource) {
            related.push(resource);
        }
        self
    }

    /// Adds a string to the additional context.
    pub fn context(mut self, key: &str, value: &str) -> Self {
        let context = &mut self.metadata.additional_context;
        if context.len() < MAX_CONTEXT_ENTRIES || context.contains_key(key) {
            context.insert(truncate_chars(key, SHORT_TEXT_MAX_CHARS), truncate_chars(value, SHORT_TEXT_MAX_CHARS));
        }
        self
    }

    pub fn title(&self) -> &str {
        &self.content.title
    }

    pub fn description(&self) -> &str {
        &self.content.description
    }

    pub fn next_steps(&self) -> &[String] {
        &self.content.next_steps
    }

    pub fn keywords(&self) -> &[String] {
        &self.content.keywords
    }

    pub fn thread_id(&self) -> &str {
        &self.metadata.thread_id
    }

    pub fn related_resources(&self) -> &[String] {
        &self.metadata.related_resources
    }

    pub fn additional_context(&self) -> &BTreeMap<String, String> {
        &self.metadata.additional_context
    }

    /// The JSON AWS Chatbot reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a custom notification serialises")
    }
}

/// Text as an inline code span in the chat's markdown: backticks inside it cannot end it.
pub fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread() -> Thread {
        Thread { id: "T".into(), summary: "s".into(), event_type: "E" }
    }

    #[test]
    fn cuts_on_character_boundaries_within_the_limit() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        let wide = "é".repeat(300);
        let cut = truncate_chars(&wide, TITLE_MAX_CHARS);
        assert_eq!(cut.chars().count(), TITLE_MAX_CHARS);
        assert!(cut.ends_with('…') && cut.starts_with('é'));
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn every_text_and_count_stays_within_the_limits() {
        let long = "x".repeat(10_000);
        let mut notification = CustomNotification::new(&long, &long, Thread { id: long.clone(), ..thread() });
        for n in 0..20 {
            notification = notification
                .next_step(&long)
                .keyword(&format!("{n}{long}"))
                .related_resource(&format!("{n}"))
                .context(&format!("k{n}"), &long);
        }
        assert_eq!(notification.title().chars().count(), TITLE_MAX_CHARS);
        assert_eq!(notification.description().chars().count(), DESCRIPTION_MAX_CHARS);
        assert_eq!(notification.next_steps().len(), MAX_NEXT_STEPS);
        assert!(notification.next_steps().iter().all(|s| s.chars().count() == NEXT_STEP_MAX_CHARS));
        assert_eq!(notification.keywords().len(), MAX_KEYWORDS);
        assert!(notification.keywords().iter().all(|k| k.chars().count() == KEYWORD_MAX_CHARS));
        assert_eq!(notification.related_resources().len(), MAX_RELATED_RESOURCES);
        assert_eq!(notification.additional_context().len(), MAX_CONTEXT_ENTRIES);
        assert_eq!(notification.thread_id().chars().count(), SHORT_TEXT_MAX_CHARS);
    }

    #[test]
    fn serialises_as_the_documented_schema() {
        let notification = CustomNotification::new("t", "d", thread())
            .with_id("i")
            .keyword("k")
            .keyword("k")
            .related_resource("r")
            .context("c", "v");
        let json: serde_json::Value = serde_json::from_str(&notification.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "version": "1.0", "source": "custom", "id": "i",
                "content": { "textType": "client-markdown", "title": "t", "description": "d", "keywords": ["k"] },
                "metadata": { "threadId": "T", "summary": "s", "eventType": "E", "relatedResources": ["r"],
                              "additionalContext": { "c": "v" } }
            })
        );
    }
}
