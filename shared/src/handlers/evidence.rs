//! Evidence snapshots (docs: docs/operations.md, "Evidence for auditors"). The reconciler's first whole sweep of
//! a day (UTC) writes the day before: its coverage rows as files, then the manifest, then moves the
//! chain head in the tracking table with a write conditional on where it stood. `vaultwatch
//! evidence verify` reads every version of every object back and walks the chain.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::HandlerError;
use crate::domain::evidence::{
    day_key, verify_chain, DayFinding, FileHistory, OpenIncident, Snapshot, SnapshotError, SnapshotInput,
};
use crate::domain::{Coverage, Incident};
use crate::ports::{EvidenceReader, EvidenceSink, TrackingStore};

/// Where a scope's snapshots go: the bucket, and the key prefix of the scope
/// (`coverage-evidence/<account>/<region>` or `coverage-evidence/organization/<region>`).
pub struct EvidenceWriter<E, S> {
    pub sink: E,
    pub store: S,
    pub prefix: String,
}

/// What a daily write did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceWritten {
    pub day: NaiveDate,
    pub rows: usize,
    pub uncovered: usize,
    /// The day's page.
    pub page: String,
    pub sha256: String,
}

impl From<SnapshotError> for HandlerError {
    fn from(err: SnapshotError) -> Self {
        HandlerError::Evidence(err.to_string())
    }
}

impl<E: EvidenceSink, S: TrackingStore> EvidenceWriter<E, S> {
    /// The snapshot of the day before `now` (UTC), unless the chain has it already (`None`). `rows`
    /// are a whole sweep's coverage rows, over a window that began at `window_start`.
    pub async fn write_daily(
        &self,
        rows: &[Coverage],
        open_incidents: &[Incident],
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<EvidenceWritten>, HandlerError> {
        let Some(day) = now.date_naive().pred_opt() else { return Ok(None) };
        let head = self.store.evidence_head(&self.prefix).await?;
        if head.as_ref().is_some_and(|head| head.day >= day) {
            return Ok(None);
        }
        let snapshot = Snapshot::build(SnapshotInput {
            scope: self.scope(),
            day,
            rows,
            open_incidents: open_incidents.iter().filter(|i| i.is_open()).map(OpenIncident::of).collect(),
            previous: head.as_ref(),
            window_start,
            now,
        })?;
        let written = EvidenceWritten {
            day,
            rows: snapshot.manifest.totals.total(),
            uncovered: snapshot.manifest.totals.uncovered,
            page: day_key(&self.prefix, day, crate::domain::evidence::HTML_FILE),
            sha256: snapshot.head.sha256.clone(),
        };
        // The manifest goes last: a day whose manifest is there has all its files.
        for (name, content_type, body) in snapshot.files {
            self.sink.put_object(&day_key(&self.prefix, day, name), body, content_type).await?;
        }
        if !self.store.advance_evidence(&self.prefix, head.map(|head| head.day), &snapshot.head).await? {
            // Another writer moved the chain while this one wrote (a manual invocation beside the
            // schedule): its objects stand as new versions, which `verify` reports as rewritten.
            tracing::warn!(day = %day, prefix = %self.prefix, "the evidence chain moved while this snapshot was written");
            return Ok(None);
        }
        tracing::info!(day = %day, rows = written.rows, uncovered = written.uncovered, page = %written.page, "evidence snapshot written");
        Ok(Some(written))
    }

    /// The scope as the manifest names it: the prefix's last two segments.
    fn scope(&self) -> &str {
        scope_of(&self.prefix)
    }
}

/// `<account>/<region>` (or `organization/<region>`): the last two segments of a prefix.
fn scope_of(prefix: &str) -> &str {
    let prefix = prefix.trim_end_matches('/');
    let mut cut = prefix.len();
    for _ in 0..2 {
        cut = prefix[..cut].rfind('/').unwrap_or(0);
    }
    prefix[cut..].trim_start_matches('/')
}

/// What `verify` found over every scope under a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Per scope, the days checked.
    pub days_checked: BTreeMap<String, usize>,
    pub findings: Vec<DayFinding>,
}

/// Walks the chain of every scope under `prefix` (`coverage-evidence`), from `since`: every version
/// of every object is listed; the latest content of each file is read and hashed.
pub async fn verify(
    reader: &impl EvidenceReader,
    prefix: &str,
    since: NaiveDate,
) -> Result<Verification, HandlerError> {
    let prefix = prefix.trim_end_matches('/');
    let versions = reader.list_versions(&format!("{prefix}/")).await?;
    // scope -> day -> file -> history
    let mut scopes: BTreeMap<String, BTreeMap<NaiveDate, BTreeMap<String, FileHistory>>> = BTreeMap::new();
    for version in &versions {
        let Some((scope, day, file)) = split_key(prefix, &version.key) else { continue };
        let history = scopes.entry(scope).or_default().entry(day).or_default().entry(file).or_default();
        if !version.delete_marker {
            history.versions += 1;
        }
        if version.is_latest {
            history.deleted = version.delete_marker;
            // Every manifest (a day before `since` may be the one the first day checked links to);
            // the other files of the days checked.
            if !version.delete_marker && (day >= since || file_is_manifest(&version.key)) {
                history.latest = Some(reader.get_version(&version.key, &version.version_id).await?);
            }
        }
    }
    let mut verification = Verification::default();
    for (scope, days) in &scopes {
        verification.days_checked.insert(scope.clone(), days.range(since..).count());
        verification.findings.extend(verify_chain(scope, days, since));
    }
    Ok(verification)
}

fn file_is_manifest(key: &str) -> bool {
    key.rsplit('/').next() == Some(crate::domain::evidence::MANIFEST_FILE)
}

/// `<prefix>/<scope a>/<scope b>/<YYYY-MM-DD>/<file>` into its scope, day and file.
fn split_key(prefix: &str, key: &str) -> Option<(String, NaiveDate, String)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [a, b, day, file] = parts.as_slice() else { return None };
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some((format!("{a}/{b}"), day, (*file).to_owned()))
}

/// The latest content of one file of one day of a scope (`show`).
pub async fn read_day_file(
    reader: &impl EvidenceReader,
    prefix: &str,
    scope: &str,
    day: NaiveDate,
    file: &str,
) -> Result<Option<Vec<u8>>, HandlerError> {
    let key = day_key(&format!("{}/{scope}", prefix.trim_end_matches('/')), day, file);
    let versions = reader.list_versions(&key).await?;
    match versions.iter().find(|v| v.key == key && v.is_latest) {
        Some(latest) if !latest.delete_marker => Ok(Some(reader.get_version(&key, &latest.version_id).await?)),
        _ => Ok(None),
    }
}

/// The scopes under `prefix` that hold `day`.
pub async fn scopes_with_day(
    reader: &impl EvidenceReader,
    prefix: &str,
    day: NaiveDate,
) -> Result<Vec<String>, HandlerError> {
    let prefix = prefix.trim_end_matches('/');
    let versions = reader.list_versions(&format!("{prefix}/")).await?;
    let scopes: BTreeSet<String> = versions
        .iter()
        .filter_map(|v| split_key(prefix, &v.key))
        .filter(|(_, d, _)| *d == day)
        .map(|(scope, _, _)| scope)
        .collect();
    Ok(scopes.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_the_prefix_s_last_two_segments_and_keys_split_back_into_it() {
        assert_eq!(scope_of("coverage-evidence/111122223333/us-east-1"), "111122223333/us-east-1");
        assert_eq!(scope_of("coverage-evidence/organization/eu-west-1/"), "organization/eu-west-1");
        assert_eq!(scope_of("a/b"), "a/b");
        assert_eq!(
            split_key("coverage-evidence", "coverage-evidence/111122223333/us-east-1/2026-12-01/index.html"),
            Some(("111122223333/us-east-1".into(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), "index.html".into()))
        );
        assert_eq!(split_key("coverage-evidence", "coverage-evidence/x/2026-12-01/index.html"), None);
        assert_eq!(split_key("coverage-evidence", "other/111122223333/us-east-1/2026-12-01/index.html"), None);
    }
}
