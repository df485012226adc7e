//! The domain vocabulary: identifiers, ARNs, jobs, routes, retry policy, tracking records.
//! Everything here is parsed and validated once; past this module nothing is a bare string.

/// The conversions every string newtype of the domain shares (its `parse` is its own).
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(raw: String) -> Result<Self, DomainError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

mod advice;
mod alert;
mod arn;
pub mod chatbot;
mod coverage;
pub mod evidence;
mod failure;
mod ids;
mod incident;
mod job;
mod lifecycle;
mod path;
mod path_check;
mod permissions;
mod recovery_point;
mod refusal;
mod retry;
mod route;
mod source;
mod token;
mod tracking;
mod vault_notifications;
mod vault_policy;

pub use advice::{advise, copy_command, Advice};
pub use alert::{Alert, AlertReason, Resolution, ALERT_EVENT_TYPE, RESOLVED_EVENT_TYPE};
pub use arn::{BackupVaultArn, IamRoleArn, KmsKeyArn, RecoveryPointArn, ResourceArn, TopicArn, VaultName};
pub use chatbot::CustomNotification;
pub use coverage::{
    coverage_of, AttemptFailure, AttemptRecord, CopyAttempt, CopyLedger, Coverage, CoverageStatus, CoverageSummary,
    RequiredBy, Requirement, SourceState,
};
pub use failure::{
    classify_failure, classify_refusal, Cause, Classification, FailureClass, PathCause, PointCause, TransientCause,
};
pub use ids::{AccountId, BackupJobId, BackupPlanId, BackupPlanVersion, BackupRuleId, CopyJobId};
pub use incident::{
    AffectedPoint, Backfill, HealedBy, Incident, IncidentId, IncidentMessage, IncidentState, NotBackfilled,
    PathFailure, SlotSettled, INCIDENT_EVENT_TYPE, INCIDENT_HEALED_EVENT_TYPE, NOT_COPIED_KEPT,
};
pub use job::{
    BackupJob, BackupJobState, Composite, CopyJob, CopyJobState, Destination, JobKind, PlanRuleRef, ResourceType,
    VaultLockState, VaultType,
};
pub use lifecycle::{DeleteAfterEvent, Lifecycle, KEEP_INDEFINITELY, MIN_DAYS_IN_COLD_STORAGE};
pub use path::{CopyPath, IncidentKey, PathCauseKind, PathHealth, PathKey, PathRecord};
pub use path_check::{
    check_path, checked_incidents, checks_clearing, Check, CheckName, CheckedIncidents, CopyRetention, Fact, KeyFacts,
    KeyGrant, KeyManager, KeyState, OrganizationFacts, OrganizationView, PathFacts, PathOrigin, PathReport, PathSpec,
    PathVerdict, ResourceTypes, RoleFacts, SimulatedDecision, Simulation, VaultFacts,
};
pub use permissions::{CopyTargets, PassableRoles};
pub use recovery_point::{NotCopyable, RecoveryPoint, StorageClass};
pub use refusal::{ErrorClass, ServiceRefusal};
pub use retry::{Lineage, RetryPolicy, CONGESTION_ATTEMPTS, CONGESTION_LAST_ATTEMPT, MAX_RETRY_DELAY};
pub use route::{CopyRoute, RouteTable};
pub use source::SourcePolicy;
pub use token::IdempotencyToken;
pub use tracking::{
    AlertKind, Claim, ClaimKind, ClaimLease, ClaimOutcome, ClaimOwner, CopyDetails, CopyJobRecord, EmptyClaimOwner,
    LeaseTooShort, ListingPlace, Ownership, Refusal, StartedCopy, StateChange, StateUpdate, SweepCursor, SweepPhase,
    SweepResume, VerifiedSweep,
};
pub use vault_notifications::{
    merged as merged_notifications, TopicConflict, VaultChange, VaultNotifications, DEPRECATED_EVENTS, REQUIRED_EVENTS,
};
pub use vault_policy::{
    copy_into_statement, evaluate as evaluate_vault_policy, share_key_statement, PolicyDecision, PolicyError,
    PolicyRequest, COPY_INTO_BACKUP_VAULT, KMS_SHARED_ACTIONS, KMS_SHARE_FIX_ACTIONS,
};

/// A value that does not fit the domain. Names what was wrong, never echoes the value (it may be
/// attacker-controlled or huge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {problem}")]
pub struct DomainError {
    pub what: &'static str,
    pub problem: String,
}

impl DomainError {
    pub fn invalid(what: &'static str, problem: impl Into<String>) -> Self {
        Self { what, problem: problem.into() }
    }
}
