//! Classifying SDK errors once, for every adapter; and, for the operator's command, naming the
//! failures a person fixes outside vaultwatch (credentials, region, network, permissions, the
//! table's name) in one line each: [`ActionableError`].

use std::error::Error;

use aws_config::SdkConfig;
use aws_credential_types::provider::error::{CredentialsError, TokenError};
use aws_sdk_backup::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::service_config::ServiceConfigKey;
use futures_util::FutureExt;

use crate::domain::{Cause, FailureClass};
use crate::ports::{AwsError, ErrorClass, NoAnswer};

/// Every SDK crate's errors carry the same raw response type, so one function classifies them all.
pub(super) fn classify<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (class, code) = match &err {
        SdkError::ServiceError(service_err) => {
            let code = service_err.err().code().map(str::to_owned);
            let status = service_err.raw().status().as_u16();
            // The codes that mean "try again later" are the classifier's (throttling, limits, service
            // errors, conflicts), the same table a refused StartCopyJob's advice reads.
            let transient = status >= 500
                || status == 429
                || code.as_deref().and_then(Cause::of_error_code).is_some_and(|c| c.class() == FailureClass::Transient);
            (if transient { ErrorClass::Transient } else { ErrorClass::Permanent }, code)
        }
        SdkError::ResponseError(_) => (ErrorClass::Transient, None),
        // Timeouts and connection failures: the request may not have reached the service.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => (ErrorClass::Transient, None),
        // ConstructionFailure and anything new: a bug on our side, retrying will not help.
        _ => (ErrorClass::Permanent, None),
    };
    let message = match &err {
        SdkError::ServiceError(service_err) => {
            service_err.err().message().map(str::to_owned).unwrap_or_else(|| code.clone().unwrap_or_default())
        }
        other => DisplayErrorContext(other).to_string(),
    };
    let no_answer = no_answer(&err);
    AwsError { service, operation, class, code, message: truncate(message), no_answer }
}

/// Why the call got no answer, when the SDK's error says so by its types.
fn no_answer<E: Error + 'static>(err: &SdkError<E, HttpResponse>) -> Option<NoAnswer> {
    let connector = match err {
        // The operation's or an attempt's timeout (adapters::load_sdk_config) ran out.
        SdkError::TimeoutError(_) => return Some(NoAnswer::Unreachable),
        SdkError::DispatchFailure(failure) => failure.as_connector_error()?,
        _ => return None,
    };
    // The orchestrator hands a failed identity resolution over as a dispatch failure whose source
    // is the credentials provider's own error (aws-smithy-runtime, `convert_dispatch_error`).
    if let Some(credentials) = chain(connector).find_map(|source| source.downcast_ref::<CredentialsError>()) {
        return match credentials {
            // The default chain's answer when none of its providers had credentials.
            CredentialsError::CredentialsNotLoaded(_) => Some(NoAnswer::NoCredentials),
            // An sso-session profile: aws-config's SSO credentials provider asks its SSO token
            // provider, whose failure (the cached token expired and cannot be refreshed, or none is
            // cached) arrives as a TokenError. Its own error type is private to aws-config.
            CredentialsError::ProviderError(_) if chain(credentials).any(|source| source.is::<TokenError>()) => {
                Some(NoAnswer::SsoSignIn)
            }
            _ => None,
        };
    }
    // The HTTP client's classification: refused, reset, DNS and TLS failures are I/O errors.
    (connector.is_io() || connector.is_timeout()).then_some(NoAnswer::Unreachable)
}

/// `err`, then its sources.
fn chain<'a>(err: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&err| err.source())
}

/// A response that is not what the API promises (a required member missing or unparsable).
pub(super) fn malformed(service: &'static str, operation: &'static str, what: impl std::fmt::Display) -> AwsError {
    AwsError {
        service,
        operation,
        class: ErrorClass::Permanent,
        code: Some("MalformedResponse".into()),
        message: format!("response {what}"),
        no_answer: None,
    }
}

fn truncate(mut message: String) -> String {
    if message.len() > 512 {
        let mut cut = 512;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    message
}

/// A command that failed for a reason the operator fixes outside vaultwatch, in one line: what is
/// wrong and what to do. The SDK's detail stays in the [`AwsError`] it came from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionableError {
    #[error("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`")]
    NoCredentials,
    #[error(
        "the AWS SSO session of profile {profile} has expired (or was never signed in): \
         run `aws sso login --profile {profile}`"
    )]
    SsoSessionExpired { profile: String },
    #[error(
        "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or a region in the profile{}",
        option.map(|option| format!(" (or {option})")).unwrap_or_default()
    )]
    NoRegion {
        /// The command's own region option, if it has one.
        option: Option<&'static str>,
    },
    #[error(
        "access denied: {principal} may not call {action}{}: {}{permissions}",
        resource.as_ref().map(|resource| format!(" (on {resource})")).unwrap_or_default(),
        explicit_deny.as_ref().map(|policy| format!("an explicit deny in {policy} refuses it; ")).unwrap_or_default()
    )]
    AccessDenied {
        principal: String,
        action: String,
        resource: Option<String>,
        /// The policy that denies it explicitly ("a service control policy"), when AWS names it.
        explicit_deny: Option<String>,
        permissions: Permissions,
    },
    /// An access denied whose message is not in IAM's documented form: AWS's own words.
    #[error("access denied: AWS refused {service} {operation} ({code}: {message}): {permissions}")]
    Refused { service: &'static str, operation: &'static str, code: String, message: String, permissions: Permissions },
    #[error("cannot reach {service} at {endpoint}: check the network, a proxy, or AWS_ENDPOINT_URL*")]
    Unreachable { service: &'static str, endpoint: String },
    #[error(
        "the tracking table {table} does not exist in {region}: pass --table with the stack's TrackingTableName output"
    )]
    TableNotFound { table: String, region: String },
}

/// Where the actions a command needs are listed, for the fix of an access denied: the docs page and
/// anchor, and the command, e.g. `("docs/operations.md#the-vaultwatch-command", "vaultwatch coverage")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permissions {
    pub listed_in: &'static str,
    pub command: &'static str,
}

impl std::fmt::Display for Permissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the IAM policy of these credentials must allow it ({} lists what `{}` needs)",
            self.listed_in, self.command
        )
    }
}

/// What the words of a command's [`ActionableError`] take from where it runs.
#[derive(Clone, Debug)]
pub struct CommandContext<'a> {
    pub sdk: &'a SdkConfig,
    /// The profile the SDK read: AWS_PROFILE, else `default` (aws-config's choice, as the AWS CLI's).
    pub profile: String,
    /// The tracking table the command reads, if it reads one.
    pub table: Option<&'a str>,
    pub permissions: Permissions,
}

impl<'a> CommandContext<'a> {
    /// The context of a command run with this configuration, its profile from the environment.
    pub fn new(sdk: &'a SdkConfig, table: Option<&'a str>, permissions: Permissions) -> Self {
        let profile = std::env::var("AWS_PROFILE").ok().filter(|profile| !profile.is_empty());
        Self { sdk, profile: profile.unwrap_or_else(|| "default".into()), table, permissions }
    }
}

impl ActionableError {
    /// The operator's fix for `err`, when it is one of these failures.
    pub fn of(err: &AwsError, context: &CommandContext<'_>) -> Option<Self> {
        match err.no_answer {
            Some(NoAnswer::NoCredentials) => return Some(Self::NoCredentials),
            Some(NoAnswer::SsoSignIn) => return Some(Self::SsoSessionExpired { profile: context.profile.clone() }),
            Some(NoAnswer::Unreachable) => {
                let endpoint = endpoint(context.sdk, err.service);
                return Some(Self::Unreachable { service: err.service, endpoint });
            }
            None => {}
        }
        let code = err.code.as_deref()?;
        if code.starts_with("AccessDenied") {
            let permissions = context.permissions;
            return Some(match Denial::parse(&err.message) {
                Some(Denial { principal, action, resource, explicit_deny }) => {
                    Self::AccessDenied { principal, action, resource, explicit_deny, permissions }
                }
                None => Self::Refused {
                    service: err.service,
                    operation: err.operation,
                    code: code.to_owned(),
                    message: err.message.clone(),
                    permissions,
                },
            });
        }
        // DynamoDB: "The operation tried to access a nonexistent table or index"
        // (docs/aws-facts.md#errors-the-command-explains); the table's indexes come with it.
        if (err.service, code) == ("dynamodb", "ResourceNotFoundException") {
            let table = context.table?.to_owned();
            let region = context.sdk.region().map_or_else(|| "the configured region".into(), ToString::to_string);
            return Some(Self::TableNotFound { table, region });
        }
        None
    }
}

/// What an access denied names, in the form the IAM User Guide documents (*Troubleshoot access
/// denied error messages*, docs/aws-facts.md#errors-the-command-explains): "User: <principal> is
/// not authorized to perform: <action> on resource: <resource> because no <type> policy allows the
/// <action> action", or "... with an explicit deny in a <type> policy[: <policy ARN>]"; some
/// services leave out the resource, or the reason. AWS's message is the only carrier of the action.
#[derive(Debug, PartialEq, Eq)]
struct Denial {
    principal: String,
    action: String,
    resource: Option<String>,
    explicit_deny: Option<String>,
}

impl Denial {
    const NOT_AUTHORIZED: &str = " is not authorized to perform: ";
    const ON_RESOURCE: &str = " on resource: ";
    const BECAUSE: &str = " because ";
    const EXPLICIT_DENY: &str = " with an explicit deny in ";

    fn parse(message: &str) -> Option<Self> {
        let (principal, rest) = message.split_once(Self::NOT_AUTHORIZED)?;
        let principal = principal.rsplit_once("User: ").map_or(principal, |(_, principal)| principal).trim();
        // What follows the action and the resource: the reason, if any.
        let (subject, explicit_deny) = match (rest.find(Self::BECAUSE), rest.find(Self::EXPLICIT_DENY)) {
            (_, Some(at)) => {
                let policy = &rest[at + Self::EXPLICIT_DENY.len()..];
                // "a service control policy: arn:..." or "an identity-based policy. Go to https://...".
                let policy = policy.split([':', '.']).next().unwrap_or(policy).trim();
                (&rest[..at], Some(policy.to_owned()).filter(|p| !p.is_empty()))
            }
            (Some(at), None) => (&rest[..at], None),
            (None, None) => (rest, None),
        };
        let (action, resource) = match subject.split_once(Self::ON_RESOURCE) {
            Some((action, resource)) => (action, Some(resource.trim().trim_end_matches('.').trim_matches('"'))),
            None => (subject, None),
        };
        let action = action.trim().trim_end_matches('.');
        // An IAM action is `service:Name`, one word.
        let (service, name) = action.split_once(':')?;
        if principal.is_empty() || service.is_empty() || name.is_empty() || action.contains(char::is_whitespace) {
            return None;
        }
        Some(Self {
            principal: principal.to_owned(),
            action: action.to_owned(),
            resource: resource.filter(|r| !r.is_empty()).map(str::to_owned),
            explicit_deny,
        })
    }
}

/// Where a call to `service` goes: the endpoint set for it or for every service (AWS_ENDPOINT_URL_<SERVICE>,
/// AWS_ENDPOINT_URL, or the profile's), in the SDK's own order, else the SDK's endpoint for the region.
fn endpoint(sdk: &SdkConfig, service: &'static str) -> String {
    let (service_id, default_endpoint) = service_endpoints(service);
    // As each SDK client's `From<&SdkConfig>` does.
    let configured = if sdk.get_origin("endpoint_url").is_client_config() {
        sdk.endpoint_url().map(str::to_owned)
    } else {
        let key = ServiceConfigKey::builder().service_id(service_id).env("AWS_ENDPOINT_URL").profile("endpoint_url");
        key.build()
            .ok()
            .and_then(|key| sdk.service_config()?.load_config(key))
            .or_else(|| sdk.endpoint_url().map(str::to_owned))
    };
    configured.or_else(|| default_endpoint?(sdk)).unwrap_or_else(|| match sdk.region() {
        Some(region) => format!("its {region} endpoint"),
        None => "its endpoint".to_owned(),
    })
}

/// The SDK's own endpoint of a service for the configured region: its endpoint rules, as a request
/// would resolve them.
type DefaultEndpoint = fn(&SdkConfig) -> Option<String>;

/// Per service: the SDK's service id (the name its endpoint settings go by) and, for those the
/// command calls, its default endpoint.
fn service_endpoints(service: &'static str) -> (&'static str, Option<DefaultEndpoint>) {
    macro_rules! resolve {
        ($sdk_crate:ident) => {{
            Some(|sdk: &SdkConfig| -> Option<String> {
                use $sdk_crate::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
                let params = Params::builder()
                    .region(sdk.region()?.to_string())
                    .use_fips(sdk.use_fips().unwrap_or(false))
                    .use_dual_stack(sdk.use_dual_stack().unwrap_or(false))
                    .build()
                    .ok()?;
                // The rules are evaluated in place: the future is ready at once.
                Some(DefaultResolver::new().resolve_endpoint(&params).now_or_never()?.ok()?.url().to_owned())
            } as DefaultEndpoint)
        }};
    }
    match service {
        "backup" => ("Backup", resolve!(aws_sdk_backup)),
        "dynamodb" => ("DynamoDB", resolve!(aws_sdk_dynamodb)),
        "s3" => ("S3", resolve!(aws_sdk_s3)),
        "kms" => ("KMS", resolve!(aws_sdk_kms)),
        "iam" => ("IAM", resolve!(aws_sdk_iam)),
        "organizations" => ("Organizations", resolve!(aws_sdk_organizations)),
        "sts" => ("STS", resolve!(aws_sdk_sts)),
        "sns" => ("SNS", None),
        "sqs" => ("SQS", None),
        other => (other, None),
    }
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_backup::error::ErrorMetadata;
    use aws_sdk_backup::operation::list_copy_jobs::ListCopyJobsError;
    use aws_sdk_backup::operation::start_copy_job::StartCopyJobError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// A service's answer with this HTTP status and error code, as the SDK hands it over.
    fn answered(status: u16, code: Option<&str>) -> AwsError {
        let mut meta = ErrorMetadata::builder().message("AWS's words");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let status = StatusCode::try_from(status).unwrap();
        let err = SdkError::service_error(
            StartCopyJobError::generic(meta.build()),
            HttpResponse::new(status, SdkBody::empty()),
        );
        classify("backup", "StartCopyJob", err)
    }

    /// A request that never got an answer: the connector's (or the orchestrator's) failure.
    fn unanswered(connector: ConnectorError) -> AwsError {
        classify("backup", "ListCopyJobs", SdkError::<ListCopyJobsError, HttpResponse>::dispatch_failure(connector))
    }

    /// As the orchestrator reports a credentials provider's failure (`convert_dispatch_error`).
    fn credentials_failed(err: CredentialsError) -> AwsError {
        unanswered(ConnectorError::other(Box::new(err), None))
    }

    /// AWS Backup refused ListCopyJobs with this code and message.
    fn refusal(code: &str, message: &str) -> AwsError {
        AwsError {
            service: "backup",
            operation: "ListCopyJobs",
            class: ErrorClass::Permanent,
            code: Some(code.to_owned()),
            message: message.to_owned(),
            no_answer: None,
        }
    }

    fn sdk(region: Option<&str>, endpoint_url: Option<&str>) -> SdkConfig {
        let mut sdk = SdkConfig::builder().behavior_version(BehaviorVersion::latest());
        sdk.set_region(region.map(|region| Region::new(region.to_owned())));
        sdk.set_endpoint_url(endpoint_url.map(str::to_owned));
        sdk.build()
    }

    const COVERAGE: Permissions =
        Permissions { listed_in: "docs/operations.md#the-vaultwatch-command", command: "vaultwatch coverage" };

    fn setup_error(err: &AwsError, sdk: &SdkConfig) -> Option<ActionableError> {
        let context =
            CommandContext { sdk, profile: "ops".into(), table: Some("vaultwatch-tracking"), permissions: COVERAGE };
        ActionableError::of(err, &context)
    }

    #[test]
    fn the_classifiers_transient_codes_and_a_5xx_or_429_are_transient_other_refusals_permanent() {
        for (status, code) in [
            (400, Some("ThrottlingException")),
            (400, Some("LimitExceededException")),
            (500, None),
            (503, None),
            (429, None),
        ] {
            let err = answered(status, code);
            assert_eq!(err.class, ErrorClass::Transient, "{status} {code:?}");
        }
        for (status, code) in
            [(400, Some("AccessDeniedException")), (400, Some("ResourceNotFoundException")), (499, None)]
        {
            let err = answered(status, code);
            assert_eq!(err.class, ErrorClass::Permanent, "{status} {code:?}");
        }
        let err = answered(400, Some("ThrottlingException"));
        assert_eq!((err.code.as_deref(), err.message.as_str()), (Some("ThrottlingException"), "AWS's words"));
        assert_eq!(err.no_answer, None, "an answer");
    }

    #[test]
    fn no_credentials_in_the_chain_is_told_from_a_provider_that_failed() {
        assert_eq!(
            credentials_failed(CredentialsError::not_loaded_no_source()).no_answer,
            Some(NoAnswer::NoCredentials)
        );
        let err = credentials_failed(CredentialsError::not_loaded("no IMDS"));
        assert_eq!((err.no_answer, err.class), (Some(NoAnswer::NoCredentials), ErrorClass::Transient));
        // A profile the SDK cannot use is not "no credentials": the SDK's words stay.
        assert_eq!(credentials_failed(CredentialsError::invalid_configuration("bad profile")).no_answer, None);
        assert_eq!(credentials_failed(CredentialsError::provider_error("STS refused")).no_answer, None);
    }

    #[test]
    fn an_sso_token_the_provider_cannot_use_asks_for_a_new_sign_in() {
        let token = TokenError::provider_error("the SSO token has expired and cannot be refreshed");
        let err = credentials_failed(CredentialsError::provider_error(token));
        assert_eq!(err.no_answer, Some(NoAnswer::SsoSignIn));
        assert_eq!(
            setup_error(&err, &sdk(Some("us-east-1"), None)).unwrap().to_string(),
            "the AWS SSO session of profile ops has expired (or was never signed in): run `aws sso login --profile ops`"
        );
    }

    #[test]
    fn a_refused_or_timed_out_connection_is_unreachable_and_names_the_endpoint() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = unanswered(ConnectorError::io(Box::new(refused)));
        assert_eq!(err.no_answer, Some(NoAnswer::Unreachable));
        assert_eq!(unanswered(ConnectorError::timeout("connect".into())).no_answer, Some(NoAnswer::Unreachable));
        let timed_out = SdkError::<ListCopyJobsError, HttpResponse>::timeout_error("operation timeout");
        assert_eq!(classify("backup", "ListCopyJobs", timed_out).no_answer, Some(NoAnswer::Unreachable));
        assert_eq!(unanswered(ConnectorError::other("?".into(), None)).no_answer, None, "not known to be the network");

        let configured = sdk(Some("us-east-1"), Some("http://127.0.0.1:9"));
        assert_eq!(
            setup_error(&err, &configured).unwrap().to_string(),
            "cannot reach backup at http://127.0.0.1:9: check the network, a proxy, or AWS_ENDPOINT_URL*"
        );
        // None set: the SDK's own endpoint for the region.
        let ActionableError::Unreachable { endpoint, .. } = setup_error(&err, &sdk(Some("eu-west-1"), None)).unwrap()
        else {
            panic!()
        };
        assert_eq!(endpoint, "https://backup.eu-west-1.amazonaws.com");
        let dynamodb = AwsError { service: "dynamodb", ..err.clone() };
        let ActionableError::Unreachable { endpoint, .. } =
            setup_error(&dynamodb, &sdk(Some("us-west-2"), None)).unwrap()
        else {
            panic!()
        };
        assert_eq!(endpoint, "https://dynamodb.us-west-2.amazonaws.com");
    }

    #[test]
    fn an_access_denied_names_the_principal_the_action_and_the_resource() {
        let sdk = sdk(Some("us-east-1"), None);
        let err = refusal(
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: backup:ListCopyJobs on \
             resource: arn:aws:backup:us-east-1:123456789012:* because no identity-based policy allows the \
             backup:ListCopyJobs action",
        );
        assert_eq!(
            setup_error(&err, &sdk).unwrap().to_string(),
            "access denied: arn:aws:iam::123456789012:user/auditor may not call backup:ListCopyJobs (on \
             arn:aws:backup:us-east-1:123456789012:*): the IAM policy of these credentials must allow it \
             (docs/operations.md#the-vaultwatch-command lists what `vaultwatch coverage` needs)"
        );
        // Not the documented form: AWS's own words (AWS Backup's Common Errors text).
        let err = refusal("AccessDeniedException", "You do not have sufficient access to perform this action.");
        assert_eq!(
            setup_error(&err, &sdk).unwrap().to_string(),
            "access denied: AWS refused backup ListCopyJobs (AccessDeniedException: You do not have sufficient \
             access to perform this action.): the IAM policy of these credentials must allow it (docs/operations.md#the-vaultwatch-command \
             lists what `vaultwatch coverage` needs)"
        );
        assert_eq!(setup_error(&refusal("ValidationException", "no"), &sdk), None);
    }

    #[test]
    fn iams_documented_access_denied_forms_are_parsed() {
        // The IAM User Guide's example (Troubleshoot access denied error messages with authorization ID).
        let explicit = "User: arn:aws:iam::123456789012:user/janedoe is not authorized to perform: \
            iam:CreateInstanceProfile on resource: arn:aws:iam::123456789012:instance-profile/my-instance-profile \
            with an explicit deny in an identity-based policy: arn:aws:iam::123456789012:policy/ExampleDenyPolicy. \
            Go to https://us-east-1.console.aws.amazon.com/iam/home?region=us-east-1#/authorization-details/EXAMPLE";
        assert_eq!(
            Denial::parse(explicit),
            Some(Denial {
                principal: "arn:aws:iam::123456789012:user/janedoe".into(),
                action: "iam:CreateInstanceProfile".into(),
                resource: Some("arn:aws:iam::123456789012:instance-profile/my-instance-profile".into()),
                explicit_deny: Some("an identity-based policy".into()),
            })
        );
        let scp = "User: arn:aws:sts::123456789012:assumed-role/ops/me is not authorized to perform: \
            kms:DescribeKey on resource: \"arn:aws:kms:us-east-1:123456789012:key/1\" with an explicit deny in a \
            service control policy";
        let denial = Denial::parse(scp).unwrap();
        assert_eq!(denial.resource.as_deref(), Some("arn:aws:kms:us-east-1:123456789012:key/1"));
        assert_eq!(denial.explicit_deny.as_deref(), Some("a service control policy"));
        // No resource, no reason (IAM's own StartCopyJob refusal, docs/aws-facts.md#startcopyjob-refusals).
        let bare =
            "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: sts:GetCallerIdentity";
        assert_eq!(
            Denial::parse(bare).map(|d| (d.action, d.resource)),
            Some(("sts:GetCallerIdentity".to_owned(), None))
        );
        for not_the_form in ["You are not authorized to perform this operation.", "Access Denied", ""] {
            assert_eq!(Denial::parse(not_the_form), None, "{not_the_form}");
        }
    }

    #[test]
    fn no_region_names_the_commands_own_option_if_it_has_one() {
        assert_eq!(
            ActionableError::NoRegion { option: None }.to_string(),
            "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or a region in the profile"
        );
        assert_eq!(
            ActionableError::NoRegion { option: Some("--region with --organization") }.to_string(),
            "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or a region in the profile (or --region with \
             --organization)"
        );
        assert_eq!(
            ActionableError::NoCredentials.to_string(),
            "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
        );
    }

    #[test]
    fn a_missing_tracking_table_says_which_and_where() {
        let err = AwsError {
            service: "dynamodb",
            operation: "BatchGetItem",
            ..refusal("ResourceNotFoundException", "Requested resource not found")
        };
        assert_eq!(
            setup_error(&err, &sdk(Some("us-east-1"), None)).unwrap().to_string(),
            "the tracking table vaultwatch-tracking does not exist in us-east-1: pass --table with the stack's \
             TrackingTableName output"
        );
        // AWS Backup's ResourceNotFoundException is a vault or a recovery point: not this.
        assert_eq!(setup_error(&AwsError { service: "backup", ..err }, &sdk(Some("us-east-1"), None)), None);
    }
}
