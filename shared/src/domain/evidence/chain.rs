//! Verifying a scope's chain of days from what the bucket holds, every object version included.
//! Pure: the caller lists the versions and reads the latest bodies.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use super::{sha256_hex, Manifest, MANIFEST_FILE};

/// One version of an object, as ListObjectVersions gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVersion {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
}

/// What the bucket holds of one file of one day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileHistory {
    /// Versions with content (delete markers not counted).
    pub versions: usize,
    /// The latest version is a delete marker: the file reads as gone.
    pub deleted: bool,
    /// The latest version's content, when it has one.
    pub latest: Option<Vec<u8>>,
}

/// What is wrong with a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "camelCase")]
pub enum Finding {
    /// A later day's manifest links to this day, and the bucket holds nothing of it.
    Missing { linked_from: NaiveDate },
    /// Files whose latest version is a delete marker (the earlier versions are still there).
    Deleted { files: Vec<String> },
    /// Files written more than once: an edit, or a write repeated after an interrupted one.
    Rewritten { files: Vec<String> },
    /// Content that does not hash to what the chain says it should.
    Altered { what: String },
    /// A manifest that cannot be read as one.
    Unreadable { what: String },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { linked_from } => {
                write!(
                    f,
                    "missing: the snapshot of {} links to it and the bucket holds none of it",
                    linked_from.format("%Y-%m-%d")
                )
            }
            Self::Deleted { files } => {
                write!(f, "deleted: {} (a delete marker hides the earlier versions)", files.join(", "))
            }
            Self::Rewritten { files } => write!(f, "rewritten: {} (more than one version)", files.join(", ")),
            Self::Altered { what } => write!(f, "altered: {what}"),
            Self::Unreadable { what } => write!(f, "unreadable: {what}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayFinding {
    pub scope: String,
    pub day: NaiveDate,
    #[serde(flatten)]
    pub finding: Finding,
}

/// The findings of one scope's days (`days`: each day's files by name), checked from `since` on; a
/// day before `since` serves only to check the link of the first day checked.
pub fn verify_chain(
    scope: &str,
    days: &BTreeMap<NaiveDate, BTreeMap<String, FileHistory>>,
    since: NaiveDate,
) -> Vec<DayFinding> {
    let mut findings = Vec::new();
    let mut found =
        |day: NaiveDate, finding: Finding| findings.push(DayFinding { scope: scope.to_owned(), day, finding });
    for (&day, files) in days.range(since..) {
        let deleted: Vec<String> = files.iter().filter(|(_, f)| f.deleted).map(|(name, _)| name.clone()).collect();
        if !deleted.is_empty() {
            found(day, Finding::Deleted { files: deleted });
        }
        let rewritten: Vec<String> =
            files.iter().filter(|(_, f)| f.versions > 1).map(|(name, _)| name.clone()).collect();
        if !rewritten.is_empty() {
            found(day, Finding::Rewritten { files: rewritten });
        }
        let Some(bytes) = files.get(MANIFEST_FILE).and_then(|f| f.latest.as_deref()) else {
            if !files.get(MANIFEST_FILE).is_some_and(|f| f.deleted) {
                found(day, Finding::Unreadable { what: format!("{MANIFEST_FILE} is not there") });
            }
            continue;
        };
        let manifest: Manifest = match serde_json::from_slice(bytes) {
            Ok(manifest) => manifest,
            Err(err) => {
                found(day, Finding::Unreadable { what: format!("{MANIFEST_FILE}: {err}") });
                continue;
            }
        };
        if manifest.day != day || manifest.scope != scope {
            found(
                day,
                Finding::Altered {
                    what: format!("{MANIFEST_FILE} names {} {}, not this day and scope", manifest.scope, manifest.day),
                },
            );
        }
        for listed in &manifest.files {
            match files.get(&listed.name).and_then(|f| f.latest.as_deref()) {
                Some(body) if sha256_hex(body) == listed.sha256 => {}
                Some(_) => found(
                    day,
                    Finding::Altered {
                        what: format!("{} does not hash to the SHA-256 its manifest recorded", listed.name),
                    },
                ),
                // A deleted file is reported as such above.
                None if files.get(&listed.name).is_some_and(|f| f.deleted) => {}
                None => found(day, Finding::Unreadable { what: format!("{} is not there", listed.name) }),
            }
        }
        let (Some(previous_day), Some(previous_sha)) = (manifest.previous_day, &manifest.previous_sha256) else {
            continue;
        };
        match days.get(&previous_day) {
            None => found(previous_day, Finding::Missing { linked_from: day }),
            Some(previous) => {
                let previous_manifest = previous.get(MANIFEST_FILE).and_then(|f| f.latest.as_deref());
                if previous_manifest.is_some_and(|bytes| &sha256_hex(bytes) != previous_sha) {
                    found(
                        previous_day,
                        Finding::Altered {
                            what: format!(
                                "its {MANIFEST_FILE} is not the one the snapshot of {} links to",
                                day.format("%Y-%m-%d")
                            ),
                        },
                    );
                }
            }
        }
    }
    findings.sort_by_key(|a| a.day);
    findings
}
