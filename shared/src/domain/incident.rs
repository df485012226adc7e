//! Incidents: one broken copy path for one kind of cause ([`super::path`]), and the messages an
//! operator gets about it — one when it opens, a digest at most every `IncidentDigestHours` while it
//! stays open, and one when it heals — all in one chat thread, whatever the number of copies that
//! fail on the path.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::advice::{advise, vault_label};
use super::chatbot::{code, CustomNotification, Thread};
use super::{
    classify_failure, Alert, Cause, CopyJobId, CopyPath, Destination, IdempotencyToken, IncidentKey, Lifecycle,
    PathCauseKind, PlanRuleRef, RecoveryPointArn, ResourceArn, ResourceType,
};

/// One episode of an incident: the path and kind, and when it opened. A path that heals and breaks
/// again opens a new episode (a new thread, a new list of affected recovery points).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IncidentId {
    pub key: IncidentKey,
    pub opened_at: DateTime<Utc>,
}

impl IncidentId {
    /// The episode's name in keys, tokens and threads: short and stable (the path key is long).
    pub fn digest(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.key.path.as_str())
            .chain_update([0u8])
            .chain_update(self.key.cause.as_str())
            .chain_update([0u8])
            .chain_update(self.opened_at.to_rfc3339_opts(SecondsFormat::Millis, true))
            .finalize();
        digest.iter().take(12).map(|byte| format!("{byte:02x}")).collect()
    }

    /// The chat thread of every message about the episode.
    pub fn thread_id(&self) -> String {
        format!("incident-{}", self.digest())
    }

    /// The token of the backfill copy of `point`: the same for every start of it in this episode,
    /// so a start repeated after a crash returns AWS Backup's first job instead of a second copy.
    pub fn backfill_token(&self, point: &RecoveryPointArn) -> IdempotencyToken {
        IdempotencyToken::for_backfill(&self.digest(), point)
    }
}

/// A recovery point left without its copy by an incident, with what a copy of it later needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedPoint {
    pub recovery_point: RecoveryPointArn,
    /// The failed copy job that made it one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_job: Option<CopyJobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceArn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<ResourceType>,
    /// The lifecycle the copy was to have, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// The plan rule whose CopyAction made the copy (its lifecycle is looked up at backfill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_rule: Option<PlanRuleRef>,
}

/// What opens or joins a path's incident: a copy that failed for its path (as the retrier hands it
/// to the store), or the path check's finding that every copy on it will fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathFailure {
    pub path: CopyPath,
    pub kind: PathCauseKind,
    /// AWS's words, and its category (the incident's cause is classified from them when read); for
    /// the path check's finding, what it found.
    pub status_message: String,
    pub message_category: Option<String>,
    /// The recovery point the failed copy left without its copy; none for the path check's finding.
    pub point: Option<AffectedPoint>,
    pub destination: Destination,
    /// The fix the path check named, when it is the check's finding.
    pub check_fix: Option<String>,
}

impl PathFailure {
    pub fn key(&self) -> IncidentKey {
        IncidentKey { path: self.path.key(), cause: self.kind }
    }

    /// The path check's finding that `path` is broken by `kind`: it opens the path's incident
    /// before any copy on it fails.
    pub fn found_by_check(path: CopyPath, kind: PathCauseKind, found: &str, fix: &str) -> Self {
        Self {
            path,
            kind,
            status_message: found.to_owned(),
            message_category: None,
            point: None,
            destination: Destination::default(),
            check_fix: Some(fix.to_owned()),
        }
    }
}

/// How an incident ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealedBy {
    /// A copy on the path completed after the incident opened.
    Copy(CopyJobId),
    /// The path check found the cause gone.
    PathCheck,
}

impl HealedBy {
    /// As the table stores it: the copy job id, or `path-check`.
    pub fn as_stored(&self) -> &str {
        match self {
            Self::Copy(job) => job.as_str(),
            Self::PathCheck => "path-check",
        }
    }

    pub fn from_stored(stored: &str) -> Option<Self> {
        match stored {
            "path-check" => Some(Self::PathCheck),
            job => CopyJobId::parse(job).ok().map(Self::Copy),
        }
    }
}

/// Where an incident stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncidentState {
    Open,
    Healed { at: DateTime<Utc>, by: HealedBy },
}

/// An incident as the tracking table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub id: IncidentId,
    pub path: CopyPath,
    pub status_message: String,
    pub message_category: Option<String>,
    /// The first recovery point a failure left without its copy (none while only the path check
    /// found the path broken).
    pub first: Option<AffectedPoint>,
    pub destination: Destination,
    /// Set when the path check opened it: the fix it named (`status_message` holds what it found).
    pub check_fix: Option<String>,
    /// Recovery points left without their copy (each counted once).
    pub affected: u64,
    pub state: IncidentState,
    /// Whether its opening alert went out.
    pub alerted: bool,
    /// Whether the message that it healed went out.
    pub healed_told: bool,
    pub last_digest_at: Option<DateTime<Utc>>,
}

impl Incident {
    /// The cause, read from AWS's words by the one classifier.
    pub fn cause(&self) -> Cause {
        classify_failure(self.message_category.as_deref(), Some(&self.status_message)).cause
    }

    pub fn is_open(&self) -> bool {
        self.state == IncidentState::Open
    }

    /// Whether a digest is due at `now`, every `every` hours (0: never).
    pub fn digest_due(&self, now: DateTime<Utc>, every_hours: u32) -> bool {
        if every_hours == 0 || !self.is_open() || !self.alerted {
            return false;
        }
        let since = self.last_digest_at.unwrap_or(self.id.opened_at);
        now - since >= chrono::Duration::hours(i64::from(every_hours))
    }

    /// The per-copy alert of the failure that opened the incident: its reason and advice are the
    /// incident's ("what to fix").
    fn first_alert(&self) -> Alert {
        let first = self.first.as_ref();
        Alert {
            copy_job: first.and_then(|point| point.copy_job.clone()),
            original_job: None,
            recovery_point: first.map(|point| point.recovery_point.clone()),
            resource: first.and_then(|point| point.resource.clone()),
            source_vault: self.path.source_vault.clone(),
            destination_vault: self.path.destination_vault.clone(),
            destination: self.destination.clone(),
            role: self.path.role.clone(),
            lifecycle: first.and_then(|point| point.lifecycle),
            reason: super::AlertReason::PermanentFailure {
                status_message: self.status_message.clone(),
                cause: self.cause(),
            },
            attempts: 1,
        }
    }
}

/// A healed episode's backfill: one copy of each recovery point it affected that can still be
/// copied, a few in flight at a time. Slots `1..=slots` are settled in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backfill {
    pub episode: IncidentId,
    pub path: CopyPath,
    /// The episode's affected recovery points when it healed.
    pub slots: u64,
    /// The next slot to settle (from 1).
    pub next_slot: u64,
    pub started: u64,
    /// Recovery points that had a copy in the destination by then (a copy made by hand, a plan's).
    pub covered: u64,
    pub not_copyable: u64,
    /// The first [`NOT_COPIED_KEPT`] recovery points that could not be copied any more, and why.
    pub not_copied: Vec<NotBackfilled>,
    /// Backfill copies started and not yet ended.
    pub in_flight: std::collections::BTreeSet<CopyJobId>,
    /// Whether its "backfilled" message went out.
    pub told: bool,
}

/// How many not-copied recovery points a backfill keeps by name (the message lists them; the
/// count covers the rest).
pub const NOT_COPIED_KEPT: usize = 20;

impl Backfill {
    /// A new backfill of a healed episode.
    pub fn of(incident: &Incident) -> Self {
        Self {
            episode: incident.id.clone(),
            path: incident.path.clone(),
            slots: incident.affected,
            next_slot: 1,
            started: 0,
            covered: 0,
            not_copyable: 0,
            not_copied: Vec::new(),
            in_flight: std::collections::BTreeSet::new(),
            told: false,
        }
    }

    /// Every slot settled.
    pub fn settled(&self) -> bool {
        self.next_slot > self.slots
    }

    /// Every slot settled and every copy it started ended.
    pub fn finished(&self) -> bool {
        self.settled() && self.in_flight.is_empty()
    }

    /// The state after slot `next_slot` settled as `settled`.
    pub fn after(&self, settled: &SlotSettled) -> Self {
        let mut next = Self { next_slot: self.next_slot + 1, ..self.clone() };
        match settled {
            SlotSettled::Started(job) => {
                next.started += 1;
                next.in_flight.insert(job.clone());
            }
            SlotSettled::Covered(_) => next.covered += 1,
            SlotSettled::NotCopyable(why) => {
                next.not_copyable += 1;
                if next.not_copied.len() < NOT_COPIED_KEPT {
                    next.not_copied.push(why.clone());
                }
            }
            SlotSettled::Empty => {}
        }
        next
    }
}

/// How one slot of a backfill settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotSettled {
    /// Its copy started.
    Started(CopyJobId),
    /// A copy of it to the destination already exists or is under way (this job): none started.
    Covered(CopyJobId),
    /// Its recovery point cannot be copied any more.
    NotCopyable(NotBackfilled),
    /// Nothing was recorded in it (a writer stopped between numbering and recording).
    Empty,
}

/// The event types of incident messages (Chatbot custom notifications).
pub const INCIDENT_EVENT_TYPE: &str = "VaultwatchPathIncident";
pub const INCIDENT_HEALED_EVENT_TYPE: &str = "VaultwatchPathHealed";

/// A recovery point the backfill could not copy, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotBackfilled {
    pub recovery_point: RecoveryPointArn,
    pub why: String,
}

/// What an operator is told about an incident, in its thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncidentMessage {
    /// The path broke: the one alert.
    Opened(Incident),
    /// Still broken (at most one per `IncidentDigestHours`).
    Digest(Incident),
    /// The cause is gone; the backfill follows (when on).
    Healed { incident: Incident, backfill: bool },
    /// The backfill has settled every affected recovery point.
    Backfilled { incident: Incident, backfill: Box<Backfill> },
}

impl IncidentMessage {
    pub fn incident(&self) -> &Incident {
        match self {
            Self::Opened(incident) | Self::Digest(incident) => incident,
            Self::Healed { incident, .. } | Self::Backfilled { incident, .. } => incident,
        }
    }

    /// The message attribute `Reason` subscribers filter on.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Opened(_) => "path broken",
            Self::Digest(_) => "path still broken",
            Self::Healed { .. } => "path healed",
            Self::Backfilled { .. } => "path backfilled",
        }
    }

    fn headline(&self) -> String {
        let incident = self.incident();
        let kind = incident.id.key.cause.describe();
        let affected = incident.affected;
        match self {
            Self::Opened(_) => format!("A copy path is broken ({kind}): copies on it fail until it is fixed."),
            Self::Digest(_) => format!("Still broken ({kind}): {affected} recovery points without a copy."),
            Self::Healed { backfill, .. } => format!(
                "Healed: the copy path works again. {affected} recovery points were affected{}.",
                if *backfill { "; vaultwatch now copies them again" } else { "" }
            ),
            Self::Backfilled { backfill, .. } => format!(
                "Backfill done: {} copies made again, {} already had a copy, {} recovery points could not be copied any more.",
                backfill.started, backfill.covered, backfill.not_copyable
            ),
        }
    }

    pub fn subject(&self) -> String {
        let incident = self.incident();
        let vault = incident.path.destination_vault.vault_name();
        let what = match self {
            Self::Opened(_) => "broken",
            Self::Digest(_) => "still broken",
            Self::Healed { .. } => "healed",
            Self::Backfilled { .. } => "backfilled",
        };
        let subject = format!("vaultwatch: copy path to {vault} {what} ({})", incident.id.key.cause.describe());
        super::chatbot::truncate_chars(&subject, 99)
    }

    /// Steps: what to fix (opened, digest), nothing (healed, backfilled).
    fn steps(&self) -> Vec<String> {
        match self {
            Self::Opened(incident) | Self::Digest(incident) => {
                let mut steps = match &incident.check_fix {
                    Some(fix) => vec![fix.clone()],
                    None => advise(&incident.first_alert()).steps,
                };
                steps.push(
                    "Nothing to copy by hand: once the path works (a copy on it completes, or `vaultwatch paths` \
                     finds it healthy), this thread says so and vaultwatch copies the affected recovery points."
                        .to_owned(),
                );
                steps
            }
            Self::Healed { .. } | Self::Backfilled { .. } => Vec::new(),
        }
    }

    fn facts(&self) -> Vec<(&'static str, String)> {
        let incident = self.incident();
        let mut facts = vec![
            ("Path", incident.path.to_string()),
            ("Cause", format!("{} ({})", incident.id.key.cause.describe(), incident.status_message)),
            ("Opened", incident.id.opened_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ];
        if incident.check_fix.is_some() {
            facts.push(("Found by", "the path check, before a copy on the path failed".to_owned()));
        }
        if let Some(first) = &incident.first {
            facts.push(("First recovery point", first.recovery_point.to_string()));
        }
        facts.push(("Affected recovery points", incident.affected.to_string()));
        if let Some(job) = incident.first.as_ref().and_then(|first| first.copy_job.as_ref()) {
            facts.push(("First failed copy job", job.to_string()));
        }
        if let (IncidentState::Healed { at, by }, Self::Healed { .. } | Self::Backfilled { .. }) =
            (&incident.state, self)
        {
            let by = match by {
                HealedBy::Copy(job) => format!("copy job {job} completed on the path"),
                HealedBy::PathCheck => "the path check found the cause gone".to_owned(),
            };
            facts.push(("Healed", format!("{} ({by})", at.to_rfc3339_opts(SecondsFormat::Secs, true))));
        }
        if let Self::Backfilled { backfill, .. } = self {
            for point in &backfill.not_copied {
                facts.push(("Not copied", format!("{} ({})", point.recovery_point, point.why)));
            }
        }
        facts
    }

    /// The readable plain text (the e-mail).
    pub fn body(&self) -> String {
        let mut body = String::new();
        let _ = writeln!(body, "{}", self.headline());
        let _ = writeln!(body);
        for (name, value) in self.facts() {
            let _ = writeln!(body, "{:<26}{value}", format!("{name}:"));
        }
        let steps = self.steps();
        if !steps.is_empty() {
            let _ = writeln!(body);
            let _ = writeln!(body, "What to do:");
            for (n, step) in steps.iter().enumerate() {
                let _ = writeln!(body, "  {}. {}", n + 1, step.replace('`', ""));
            }
        }
        body
    }

    /// The AWS Chatbot custom notification, in the incident's thread.
    pub fn notification(&self) -> CustomNotification {
        let incident = self.incident();
        let destination = vault_label(&incident.path.destination_vault);
        let summary = format!("Copy path to {destination} broken ({})", incident.id.key.cause.describe());
        let (icon, event_type) = match self {
            Self::Opened(_) | Self::Digest(_) => (":rotating_light:", INCIDENT_EVENT_TYPE),
            Self::Healed { .. } | Self::Backfilled { .. } => (":white_check_mark:", INCIDENT_HEALED_EVENT_TYPE),
        };
        let title = format!("{icon} vaultwatch: {}", self.subject().trim_start_matches("vaultwatch: "));
        let mut description = format!("{}\n", self.headline());
        for (name, value) in self.facts() {
            let _ = write!(description, "\n*{name}:* {}", code(&value));
        }
        let thread = Thread { id: incident.id.thread_id(), summary, event_type };
        let event = match self {
            Self::Opened(_) => "opened".to_owned(),
            Self::Digest(_) => format!("digest-{}", incident.affected),
            Self::Healed { .. } => "healed".to_owned(),
            Self::Backfilled { .. } => "backfilled".to_owned(),
        };
        let mut notification = CustomNotification::new(&title, &description, thread)
            .with_id(&format!("vaultwatch-{}-{event}", incident.id.thread_id()));
        for step in self.steps() {
            notification = notification.next_step(&step);
        }
        notification = notification
            .keyword("vaultwatch")
            .keyword("copy path")
            .keyword(incident.id.key.cause.as_str())
            .keyword(incident.path.destination_vault.region())
            .related_resource(incident.path.source_vault.as_str())
            .related_resource(incident.path.destination_vault.as_str());
        if let Some(first) = &incident.first {
            notification = notification.related_resource(first.recovery_point.as_str());
        }
        if let Some(role) = &incident.path.role {
            notification = notification.related_resource(role.as_str());
        }
        notification
            .context("incident", &incident.id.thread_id())
            .context("cause", incident.id.key.cause.as_str())
            .context("affected", &incident.affected.to_string())
            .context("destinationRegion", incident.path.destination_vault.region())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{BackupVaultArn, IamRoleArn};

    pub(crate) fn incident(kind: PathCauseKind, message: &str) -> Incident {
        let path = CopyPath {
            source_vault: BackupVaultArn::parse("arn:aws:backup:us-east-1:111122223333:backup-vault:primary").unwrap(),
            destination_vault: BackupVaultArn::parse("arn:aws:backup:us-west-2:111122223333:backup-vault:dr").unwrap(),
            role: Some(IamRoleArn::parse("arn:aws:iam::111122223333:role/backup").unwrap()),
        };
        let opened_at = DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z").unwrap().with_timezone(&Utc);
        Incident {
            id: IncidentId { key: IncidentKey { path: path.key(), cause: kind }, opened_at },
            path,
            status_message: message.to_owned(),
            message_category: None,
            first: Some(AffectedPoint {
                recovery_point: RecoveryPointArn::parse("arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0")
                    .unwrap(),
                copy_job: Some(CopyJobId::parse("47C8EF56-74D8-059D-1301-C5BE1D5C926E").unwrap()),
                resource: None,
                resource_type: Some(ResourceType::Ebs),
                lifecycle: None,
                plan_rule: None,
            }),
            destination: Destination::default(),
            check_fix: None,
            affected: 30,
            state: IncidentState::Open,
            alerted: true,
            healed_told: false,
            last_digest_at: None,
        }
    }

    const KMS: &str = "Unable to access KMS key arn:aws:kms:us-west-2:111122223333:key/1234abcd. \
                       The key is disabled.";

    #[test]
    fn an_episode_has_one_thread_and_one_token_per_recovery_point() {
        let open = incident(PathCauseKind::KmsKey, KMS);
        let again = IncidentId { opened_at: open.id.opened_at + chrono::Duration::days(1), ..open.id.clone() };
        assert_eq!(open.id.thread_id(), open.id.clone().thread_id());
        assert_ne!(open.id.thread_id(), again.thread_id(), "a new episode is a new thread");
        let point = &open.first.as_ref().unwrap().recovery_point;
        assert_eq!(open.id.backfill_token(point), open.id.backfill_token(point));
        assert_ne!(open.id.backfill_token(point), again.backfill_token(point));
        let other = IncidentKey { cause: PathCauseKind::Access, ..open.id.key.clone() };
        assert_ne!(IncidentId { key: other, ..open.id.clone() }.thread_id(), open.id.thread_id());
    }

    #[test]
    fn every_message_of_an_incident_goes_to_its_thread() {
        let open = incident(PathCauseKind::KmsKey, KMS);
        let healed = Incident {
            state: IncidentState::Healed { at: open.id.opened_at, by: HealedBy::PathCheck },
            ..open.clone()
        };
        let messages = [
            IncidentMessage::Opened(open.clone()),
            IncidentMessage::Digest(open.clone()),
            IncidentMessage::Healed { incident: healed.clone(), backfill: true },
            IncidentMessage::Backfilled { backfill: Box::new(Backfill::of(&healed)), incident: healed },
        ];
        for message in &messages {
            assert_eq!(message.notification().thread_id(), open.id.thread_id());
            assert!(message.subject().chars().count() < 100);
            assert!(message.body().contains(&open.path.destination_vault.to_string()), "{}", message.body());
        }
        let opened = messages[0].body();
        assert!(opened.contains("Affected recovery points: 30"), "{opened}");
        assert!(opened.contains("The key is disabled"), "AWS's words: {opened}");
        assert!(opened.contains("What to do:") && opened.contains("enabled"), "the fix: {opened}");
        assert!(!opened.contains("start-copy-job"), "nothing to copy by hand: {opened}");
        assert!(messages[1].body().starts_with("Still broken (KMS key): 30 recovery points without a copy."));
        assert!(messages[2].body().contains("copy job") || messages[2].body().contains("path check"));
        assert!(messages[2].body().contains("30 recovery points were affected"));
    }

    #[test]
    fn digests_come_every_so_many_hours_while_open_and_alerted() {
        let open = incident(PathCauseKind::KmsKey, KMS);
        let opened_at = open.id.opened_at;
        let at = |hours| opened_at + chrono::Duration::hours(hours);
        assert!(!open.digest_due(at(23), 24));
        assert!(open.digest_due(at(24), 24));
        assert!(!open.digest_due(at(240), 0), "0 = never");
        let recent = Incident { last_digest_at: Some(at(24)), ..open.clone() };
        assert!(!recent.digest_due(at(47), 24) && recent.digest_due(at(48), 24));
        assert!(!Incident { alerted: false, ..open.clone() }.digest_due(at(48), 24));
        let healed = Incident { state: IncidentState::Healed { at: at(1), by: HealedBy::PathCheck }, ..open };
        assert!(!healed.digest_due(at(48), 24));
    }

    #[test]
    fn a_backfill_keeps_the_first_not_copied_by_name_and_counts_them_all() {
        let open = incident(PathCauseKind::KmsKey, KMS);
        let mut backfill = Backfill::of(&open);
        let gone = |n: usize| NotBackfilled {
            recovery_point: RecoveryPointArn::parse(&format!("arn:aws:ec2:us-east-1::snapshot/snap-{n:017}")).unwrap(),
            why: "deleted".into(),
        };
        for n in 0..NOT_COPIED_KEPT + 1 {
            backfill = backfill.after(&SlotSettled::NotCopyable(gone(n)));
        }
        assert_eq!(backfill.not_copyable, NOT_COPIED_KEPT as u64 + 1);
        assert_eq!(backfill.not_copied.len(), NOT_COPIED_KEPT, "the first ones by name");
        assert_eq!(backfill.not_copied[NOT_COPIED_KEPT - 1], gone(NOT_COPIED_KEPT - 1));
        assert_eq!(backfill.next_slot, NOT_COPIED_KEPT as u64 + 2);
    }

    #[test]
    fn each_message_names_what_it_says_for_subscribers_filtering_on_it() {
        let open = incident(PathCauseKind::KmsKey, KMS);
        let healed = Incident {
            state: IncidentState::Healed { at: open.id.opened_at, by: HealedBy::PathCheck },
            ..open.clone()
        };
        let labels = [
            IncidentMessage::Opened(open.clone()).label(),
            IncidentMessage::Digest(open).label(),
            IncidentMessage::Healed { incident: healed.clone(), backfill: false }.label(),
            IncidentMessage::Backfilled { backfill: Box::new(Backfill::of(&healed)), incident: healed }.label(),
        ];
        assert_eq!(labels, ["path broken", "path still broken", "path healed", "path backfilled"]);
        assert_eq!(
            IncidentMessage::Opened(incident(PathCauseKind::KmsKey, KMS)).subject(),
            "vaultwatch: copy path to dr broken (KMS key)"
        );
        let retention = incident(PathCauseKind::Retention, "Copy job failed. The retention specified in the job is not within the range specified for the target Backup Vault.");
        assert_eq!(
            IncidentMessage::Digest(retention).subject(),
            "vaultwatch: copy path to dr still broken (vault lock retention)"
        );
    }

    #[test]
    fn an_incident_the_path_check_opened_names_the_checks_fix_and_no_recovery_point() {
        let fix = "Add this statement to the vault access policy of dr: {\"Effect\":\"Allow\"}";
        let found = Incident {
            status_message: "vault dr has no access policy".into(),
            first: None,
            affected: 0,
            check_fix: Some(fix.into()),
            ..incident(PathCauseKind::VaultAccessPolicy, "")
        };
        let opened = IncidentMessage::Opened(found.clone());
        let body = opened.body();
        assert!(body.contains("Found by:                 the path check, before a copy on the path failed"), "{body}");
        assert!(body.contains("vault dr has no access policy") && !body.contains("First recovery point"), "{body}");
        assert_eq!(opened.steps()[0], fix);
        let notification = serde_json::to_value(opened.notification()).unwrap();
        let related = notification["metadata"]["relatedResources"].as_array().unwrap().len();
        assert_eq!(related, 3, "the vaults and the role, no recovery point: {notification}");
        // A copy-failure incident keeps its per-cause advice and its first recovery point.
        let failed = IncidentMessage::Opened(incident(PathCauseKind::VaultAccessPolicy, "Access denied"));
        assert!(failed.body().contains("First recovery point") && failed.steps()[0] != fix);
    }

    #[test]
    fn healed_by_reads_back() {
        let job = CopyJobId::parse("47C8EF56-74D8-059D-1301-C5BE1D5C926E").unwrap();
        for by in [HealedBy::PathCheck, HealedBy::Copy(job)] {
            assert_eq!(HealedBy::from_stored(by.as_stored()), Some(by));
        }
    }
}
