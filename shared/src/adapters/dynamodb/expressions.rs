//! UpdateItem expressions in DynamoDB's own notation: every attribute name behind a `#name`
//! placeholder and every value behind a `:name` placeholder (so reserved words such as `state` never
//! clash). An attribute written by SET is `#attr = :attr`; the conditions below are fixed texts that
//! use those same placeholders, or ones bound by name.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// A write moves the state only forward (`:state_rank` is the rank being written).
pub const STATE_MOVES_FORWARD: &str = "attribute_not_exists(#state_rank) OR #state_rank < :state_rank";
/// A claim is free, or pending and abandoned: taken before `:lease_cutoff`.
pub const CLAIM_IS_FREE: &str = "attribute_not_exists(#claim) OR (#claim = :pending AND #claim_at < :lease_cutoff)";
/// The claim is `:owner`'s and still pending: only then is it renewed or given back (a finished
/// claim stays finished, and a claim another invocation took over is its own).
pub const CLAIM_IS_OURS_AND_PENDING: &str = "#claim = :pending AND #claim_owner = :owner";
/// The claim is `:owner`'s, pending or already finished by it (a finish repeated after a lost
/// response writes the same again); a claim another invocation took over is not finished.
pub const CLAIM_IS_OURS: &str = "#claim_owner = :owner";
/// The item does not exist yet.
pub const ITEM_IS_NEW: &str = "attribute_not_exists(#pk)";
/// A recovery point's item is still taken at `:taken` (no other writer took it over since).
pub const POINT_STILL_TAKEN_AT: &str = "#taken_at = :taken";
/// The item exists (a write to it creates nothing).
pub const ITEM_EXISTS: &str = "attribute_exists(#pk)";
/// A backfill exists and its runner's claim is free (or abandoned).
pub const BACKFILL_CLAIM_IS_FREE: &str =
    "attribute_exists(#pk) AND (attribute_not_exists(#claim) OR (#claim = :pending AND #claim_at < :lease_cutoff))";
/// The backfill is `:owner`'s and `:slot` is its next slot.
pub const BACKFILL_SLOT_IS_NEXT: &str = "#claim_owner = :owner AND #next = :slot";
/// The backfill is `:owner`'s and its message not yet recorded.
pub const BACKFILL_NOT_TOLD_AND_OURS: &str = "#claim_owner = :owner AND #told = :not_told";
/// An incident may open a new episode: it has none, or its last one healed.
pub const INCIDENT_MAY_OPEN: &str = "attribute_not_exists(#pk) OR #incident_state = :healed";
/// The incident's current episode is `:episode`, still open.
pub const EPISODE_IS_OPEN: &str = "#opened_at = :episode AND #incident_state = :open";
/// An incident's claim is free (or abandoned), in episode `:episode`.
pub const INCIDENT_CLAIM_IS_FREE: &str =
    "#opened_at = :episode AND (attribute_not_exists(#claim) OR (#claim = :pending AND #claim_at < :lease_cutoff))";
/// An incident's claim is `:owner`'s, in episode `:episode`.
pub const INCIDENT_CLAIM_IS_OURS: &str = "#opened_at = :episode AND #claim_owner = :owner";
/// An incident's claim is `:owner`'s and pending, in episode `:episode`.
pub const INCIDENT_CLAIM_IS_OURS_AND_PENDING: &str =
    "#opened_at = :episode AND #claim = :pending AND #claim_owner = :owner";
/// No digest of the open episode `:episode` was recorded yet.
pub const FIRST_DIGEST: &str =
    "#opened_at = :episode AND #incident_state = :open AND attribute_not_exists(#last_digest_at)";
/// The last digest of the open episode `:episode` recorded is `:previous`.
/// A path's last completed copy moves forward only.
pub const LATER_COPY: &str = "attribute_not_exists(#last_copy_at) OR #last_copy_at < :last_copy_at";
/// A daily task's day moves forward only.
pub const LATER_DAY: &str = "attribute_not_exists(#done_on) OR #done_on < :done_on";
/// An evidence chain has no day yet.
pub const NO_EVIDENCE_YET: &str = "attribute_not_exists(#evidence_day)";
/// An evidence chain's last day is still `:from` (no other writer moved it).
pub const EVIDENCE_STILL_AT: &str = "#evidence_day = :from";
pub const NEXT_DIGEST: &str = "#opened_at = :episode AND #incident_state = :open AND #last_digest_at = :previous";

/// One UpdateItem's update expression, condition, and placeholder bindings.
#[derive(Debug, Default)]
pub struct UpdateExpression {
    sets: Vec<String>,
    adds: Vec<String>,
    deletes: Vec<String>,
    removes: Vec<String>,
    condition: Option<&'static str>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// What UpdateItem takes: update expression, condition, names and values.
pub type Built = (String, Option<String>, HashMap<String, String>, HashMap<String, AttributeValue>);

impl UpdateExpression {
    /// Binds `#placeholder` to an attribute name.
    pub fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.insert(format!("#{placeholder}"), attribute.to_owned());
        self
    }

    /// Binds `:placeholder` to a value.
    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(format!(":{placeholder}"), value);
        self
    }

    /// `SET #attr = :attr`
    pub fn set(self, attribute: &str, value: AttributeValue) -> Self {
        self.set_as(attribute, attribute, value)
    }

    /// `SET #placeholder = :placeholder`, the placeholder standing for `attribute`.
    pub fn set_as(mut self, placeholder: &str, attribute: &str, value: AttributeValue) -> Self {
        self.sets.push(format!("#{placeholder} = :{placeholder}"));
        self.name(placeholder, attribute).value(placeholder, value)
    }

    /// `SET #attr = if_not_exists(#attr, :attr)`: written only if the item does not have it yet.
    pub fn set_if_absent(mut self, attribute: &str, value: AttributeValue) -> Self {
        self.sets.push(format!("#{attribute} = if_not_exists(#{attribute}, :{attribute})"));
        self.name(attribute, attribute).value(attribute, value)
    }

    pub fn set_opt(self, attribute: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(value) => self.set(attribute, value),
            None => self,
        }
    }

    pub fn set_if_absent_opt(self, attribute: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(value) => self.set_if_absent(attribute, value),
            None => self,
        }
    }

    /// `ADD #attr :attr`: a number added to (a set extended), atomically.
    pub fn add(mut self, attribute: &str, value: AttributeValue) -> Self {
        self.adds.push(format!("#{attribute} :{attribute}"));
        self.name(attribute, attribute).value(attribute, value)
    }

    /// `DELETE #attr :attr`: elements taken out of a set.
    pub fn delete(mut self, attribute: &str, value: AttributeValue) -> Self {
        self.deletes.push(format!("#{attribute} :{attribute}"));
        self.name(attribute, attribute).value(attribute, value)
    }

    /// `REMOVE #placeholder`
    pub fn remove(mut self, placeholder: &str, attribute: &str) -> Self {
        self.removes.push(format!("#{placeholder}"));
        self.name(placeholder, attribute)
    }

    /// One of the fixed conditions above; its placeholders must be bound.
    pub fn condition(mut self, condition: &'static str) -> Self {
        self.condition = Some(condition);
        self
    }

    pub fn build(self) -> Built {
        let mut clauses = Vec::new();
        if !self.sets.is_empty() {
            clauses.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.adds.is_empty() {
            clauses.push(format!("ADD {}", self.adds.join(", ")));
        }
        if !self.deletes.is_empty() {
            clauses.push(format!("DELETE {}", self.deletes.join(", ")));
        }
        if !self.removes.is_empty() {
            clauses.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        (clauses.join(" "), self.condition.map(str::to_owned), self.names, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(n: u32) -> AttributeValue {
        AttributeValue::N(n.to_string())
    }

    #[test]
    fn every_name_and_value_is_a_placeholder_as_dynamodb_documents_them() {
        let (expression, condition, names, values) = UpdateExpression::default()
            .set("state", AttributeValue::S("RUNNING".into()))
            .set("state_rank", n(2))
            .set_if_absent("resource_type", AttributeValue::S("EBS".into()))
            .remove("claim", "alert_claim")
            .condition(STATE_MOVES_FORWARD)
            .build();
        assert_eq!(
            expression,
            "SET #state = :state, #state_rank = :state_rank, #resource_type = if_not_exists(#resource_type, :resource_type) REMOVE #claim"
        );
        assert_eq!(condition.as_deref(), Some(STATE_MOVES_FORWARD));
        assert_eq!(names["#claim"], "alert_claim");
        assert_eq!(names["#state_rank"], "state_rank");
        assert_eq!(values[":state_rank"], n(2));
        assert_eq!(values.len(), 3);
    }

    /// The `#name` and `:value` placeholders a text uses.
    fn placeholders(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (at, sigil) in text.match_indices(['#', ':']) {
            let rest = &text[at + sigil.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            found.push(format!("{sigil}{}", &rest[..end]));
        }
        found
    }

    #[test]
    fn the_fixed_conditions_use_only_placeholders_the_writes_bind() {
        let claim = UpdateExpression::default()
            .set_as("claim", "failure_claim", AttributeValue::S("pending".into()))
            .name("claim_at", "failure_claim_at")
            .value("pending", AttributeValue::S("pending".into()))
            .value("lease_cutoff", n(0));
        let state = UpdateExpression::default().set("state_rank", n(1));
        for (write, condition) in [(claim, CLAIM_IS_FREE), (state, STATE_MOVES_FORWARD)] {
            let (_, _, names, values) = write.build();
            for placeholder in placeholders(condition) {
                assert!(names.contains_key(&placeholder) || values.contains_key(&placeholder), "{placeholder}");
            }
        }
        assert_eq!(placeholders(CLAIM_IS_OURS_AND_PENDING), ["#claim", ":pending", "#claim_owner", ":owner"]);
        assert_eq!(placeholders(CLAIM_IS_OURS), ["#claim_owner", ":owner"]);
    }
}
