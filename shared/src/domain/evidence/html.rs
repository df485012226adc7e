//! The day's page: self-contained HTML (inline style, inline SVG, no script, nothing fetched), so
//! it reads the same from the bucket, an auditor's disk or an archive in ten years.

use std::collections::BTreeMap;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{DayTotals, EvidenceRow, Manifest};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}\
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}\
th,td{border:1px solid #c8c8c8;padding:0.25rem 0.5rem;text-align:left;font-size:0.9rem}\
th{background:#f0f0f0}.num{text-align:right}.bad{color:#a4000f}.ok{color:#1d6b2f}\
code{font-size:0.85rem}footer{margin-top:2rem;font-size:0.8rem;color:#555}";

/// The day's counts per destination vault.
fn per_destination(rows: &[EvidenceRow]) -> BTreeMap<&str, DayTotals> {
    let mut by: BTreeMap<&str, DayTotals> = BTreeMap::new();
    for row in rows {
        by.entry(row.destination_backup_vault_arn.as_str()).or_default().count(row);
    }
    by
}

pub(super) fn page(manifest: &Manifest, rows: &[EvidenceRow], history: &[DayTotals]) -> String {
    let day = manifest.day.format("%Y-%m-%d").to_string();
    let totals = &manifest.totals;
    let uncovered: Vec<&EvidenceRow> = rows.iter().filter(|row| row.coverage_status != "covered").collect();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Copy coverage " (day) " — " (manifest.scope) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Copy coverage on " (day) }
                p id="summary" {
                    "Scope " code { (manifest.scope) } ": "
                    span class="ok" { (totals.covered) " covered" } ", "
                    span class=(if totals.uncovered > 0 { "bad" } else { "ok" }) { (totals.uncovered) " uncovered" }
                    ", " (totals.other) " not owed (not copyable or expired), of "
                    (totals.total()) " required copies of the backups completed that day (UTC)."
                    @if !manifest.complete {
                        " The sweep's window began at " (manifest.window_start) ", after the day began: backups before it are not counted."
                    }
                }
                h2 { "By destination" }
                table {
                    thead { tr { th { "Destination vault" } th class="num" { "Covered" } th class="num" { "Uncovered" } th class="num" { "Not owed" } } }
                    tbody {
                        @for (destination, counts) in per_destination(rows) {
                            tr { td { code { (destination) } } td class="num" { (counts.covered) } td class="num" { (counts.uncovered) } td class="num" { (counts.other) } }
                        }
                    }
                }
                h2 { "The last " (history.len()) " days" }
                (chart(history))
                p { span class="ok" { "■ covered" } " " span class="bad" { "■ uncovered" } " (per day the backups completed, UTC; hover a bar for its count)" }
                h2 { "Not covered (" (uncovered.len()) ")" }
                @if uncovered.is_empty() {
                    p { "Every required copy of the day's backups is there." }
                } @else {
                    table {
                        thead { tr { th { "Recovery point" } th { "Destination vault" } th { "Status" } th { "Reason" } th { "Copy job" } } }
                        tbody {
                            @for row in &uncovered {
                                tr {
                                    td { code { (row.source_recovery_point_arn) } }
                                    td { code { (row.destination_backup_vault_arn) } }
                                    td { (row.coverage_status) }
                                    td { (row.reason) @if !row.incident.is_empty() { " (" (row.incident) ")" } }
                                    td { code { (row.copy_job_id) } }
                                }
                            }
                        }
                    }
                }
                h2 { "Open path incidents (" (manifest.open_incidents.len()) ")" }
                @if manifest.open_incidents.is_empty() {
                    p { "None." }
                } @else {
                    table {
                        thead { tr { th { "Incident" } th { "Path" } th { "Cause" } th { "Opened" } th class="num" { "Recovery points affected" } th { "Found" } } }
                        tbody {
                            @for incident in &manifest.open_incidents {
                                tr {
                                    td { code { (incident.incident) } }
                                    td { code { (incident.path) } }
                                    td { (incident.cause) }
                                    td { (incident.opened_at) }
                                    td class="num" { (incident.affected) }
                                    td { (incident.found) }
                                }
                            }
                        }
                    }
                }
                footer {
                    p {
                        "Written by vaultwatch at " (manifest.generated_at) ". "
                        @match (&manifest.previous_day, &manifest.previous_sha256) {
                            (Some(previous), Some(sha)) => { "The previous snapshot (" (previous.format("%Y-%m-%d")) ") has the manifest SHA-256 " code { (sha) } ". " }
                            _ => { "This is the scope's first snapshot. " }
                        }
                        "Verify the chain with " code { "vaultwatch evidence verify" } "."
                    }
                }
            }
        }
    };
    markup.into_string()
}

/// A stacked bar per day, covered below uncovered: hand-written SVG, as a chart crate would bring a
/// renderer for a dozen rectangles.
fn chart(history: &[DayTotals]) -> Markup {
    const BAR: usize = 18;
    const GAP: usize = 4;
    const HEIGHT: usize = 120;
    // The history always holds the day itself: at least one bar.
    let width = history.len() * (BAR + GAP);
    let most = history.iter().map(|t| t.covered + t.uncovered).max().unwrap_or(0).max(1);
    let scale = |n: usize| n * HEIGHT / most;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(HEIGHT + 20) role="img"
            aria-label="Covered and uncovered copies per day" {
            title { "Covered (green) and uncovered (red) copies per day" }
            @for (i, totals) in history.iter().enumerate() {
                @let x = i * (BAR + GAP);
                @let covered = scale(totals.covered);
                @let uncovered = scale(totals.uncovered);
                rect x=(x) y=(HEIGHT - covered) width=(BAR) height=(covered) fill="#2e8540" {
                    title { (totals.day.format("%Y-%m-%d")) ": " (totals.covered) " covered" }
                }
                rect x=(x) y=(HEIGHT - covered - uncovered) width=(BAR) height=(uncovered) fill="#c5192d" {
                    title { (totals.day.format("%Y-%m-%d")) ": " (totals.uncovered) " uncovered" }
                }
                text x=(x) y=(HEIGHT + 14) font-size="9" { (totals.day.format("%d")) }
            }
        }
    }
}
