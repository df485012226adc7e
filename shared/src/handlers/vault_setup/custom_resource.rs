//! The template's `VaultNotificationsSetup` CloudFormation custom resource: Create and Update
//! configure the vaults; Delete leaves the vaults' notifications as they are (other tools may rely on them; events
//! to a deleted topic are dropped by AWS). Every request that names a response URL gets an answer,
//! SUCCESS or FAILED with the reason, so a stack never hangs waiting for one.

use std::collections::HashMap;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest as Request, CloudFormationCustomResourceResponse as Response,
    CloudFormationCustomResourceResponseStatus as Status,
};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;

use super::{configure_vaults, SetupOptions};
use crate::domain::{DomainError, TopicArn, VaultName};
use crate::ports::{CustomResourceResponder, ResponseError, VaultNotificationsApi};

/// CloudFormation keeps at most 4 KiB of a response; the reason is cut well before that.
pub(crate) const MAX_REASON_CHARS: usize = 3000;

pub struct VaultNotificationsResource<A, R> {
    pub backup: A,
    pub responder: R,
}

/// What the resource answered CloudFormation; the Lambda response is its serialisation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answered {
    pub status: Status,
    pub reason: String,
}

/// An invocation that could not answer CloudFormation.
#[derive(Debug, thiserror::Error)]
pub enum CustomResourceError {
    #[error("not a CloudFormation custom resource request (no ResponseURL to answer): {0}")]
    NotARequest(String),
    #[error(transparent)]
    Respond(#[from] ResponseError),
}

impl From<CustomResourceError> for Diagnostic {
    fn from(err: CustomResourceError) -> Self {
        let kind = match err {
            CustomResourceError::NotARequest(_) => "NotACustomResourceRequest",
            CustomResourceError::Respond(_) => "ResponseNotDelivered",
        };
        Diagnostic { error_type: kind.to_owned(), error_message: err.to_string() }
    }
}

/// Resource properties the template gave that do not describe a setup.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PropertiesError {
    #[error("TopicArn is required")]
    MissingTopic,
    #[error("TopicArn: {0}")]
    InvalidTopic(DomainError),
    #[error("VaultNames is required (a list of vault names)")]
    MissingVaultNames,
    #[error("VaultNames: {name:?}: {source}")]
    InvalidVaultName { name: String, source: DomainError },
}

/// The resource's properties, parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Properties {
    pub topic: TopicArn,
    pub vaults: Vec<VaultName>,
    pub replace_topic: bool,
}

impl Properties {
    pub fn parse(properties: &Value) -> Result<Self, PropertiesError> {
        let topic = properties.get("TopicArn").and_then(Value::as_str).ok_or(PropertiesError::MissingTopic)?;
        let topic = TopicArn::parse(topic).map_err(PropertiesError::InvalidTopic)?;
        let names: Vec<&str> = match properties.get("VaultNames") {
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(names)) => names.split(',').collect(),
            _ => return Err(PropertiesError::MissingVaultNames),
        };
        let vaults = names
            .into_iter()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                VaultName::parse(name)
                    .map_err(|source| PropertiesError::InvalidVaultName { name: name.to_owned(), source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // CloudFormation passes every property as a string.
        let replace_topic = match properties.get("ReplaceTopic") {
            Some(Value::Bool(replace)) => *replace,
            Some(Value::String(replace)) => replace.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Ok(Self { topic, vaults, replace_topic })
    }
}

impl<A: VaultNotificationsApi, R: CustomResourceResponder> VaultNotificationsResource<A, R> {
    pub async fn handle(&self, payload: &Value) -> Result<Answered, CustomResourceError> {
        let (url, response) = self.answer(payload).await?;
        self.responder.respond(&url, &response).await?;
        Ok(Answered { status: response.status, reason: response.reason.unwrap_or_default() })
    }

    /// The answer to a request and where it goes.
    pub async fn answer(&self, payload: &Value) -> Result<(String, Response), CustomResourceError> {
        let request: Request = match serde_json::from_value(payload.clone()) {
            Ok(request) => request,
            Err(err) => return malformed(payload, &err),
        };
        let (url, mut response, properties) = match request {
            Request::Create(r) => {
                let physical = format!("vault-notifications-{}", r.logical_resource_id);
                (
                    r.response_url,
                    respond_to(r.stack_id, r.request_id, r.logical_resource_id, physical),
                    Some(r.resource_properties),
                )
            }
            Request::Update(r) => (
                r.response_url,
                respond_to(r.stack_id, r.request_id, r.logical_resource_id, r.physical_resource_id),
                Some(r.resource_properties),
            ),
            Request::Delete(r) => (
                r.response_url,
                respond_to(r.stack_id, r.request_id, r.logical_resource_id, r.physical_resource_id),
                None,
            ),
            // The enum is non-exhaustive: a request type CloudFormation may add later.
            _ => return malformed(payload, &"unknown RequestType"),
        };
        let outcome = match properties {
            None => Ok("vault notifications left in place".to_owned()),
            Some(properties) => self.configure(&properties).await,
        };
        match outcome {
            Ok(summary) => {
                response.data = HashMap::from([("Summary".to_owned(), truncated(&summary))]);
                response.reason = Some(truncated(&summary));
            }
            Err(reason) => {
                response.status = Status::Failed;
                response.reason = Some(truncated(&reason));
            }
        }
        Ok((url, response))
    }

    /// One line per vault; Err when any vault failed (all are attempted).
    async fn configure(&self, properties: &Value) -> Result<String, String> {
        let properties = Properties::parse(properties).map_err(|err| err.to_string())?;
        let options = SetupOptions { dry_run: false, replace_topic: properties.replace_topic };
        let results = configure_vaults(&self.backup, &properties.vaults, &properties.topic, options).await;
        let lines: Vec<String> =
            results.iter().map(|r| r.as_ref().map_or_else(ToString::to_string, ToString::to_string)).collect();
        let summary = lines.join("; ");
        if results.iter().any(Result::is_err) {
            Err(summary)
        } else {
            Ok(summary)
        }
    }
}

pub(crate) fn respond_to(
    stack_id: String,
    request_id: String,
    logical_resource_id: String,
    physical: String,
) -> Response {
    let mut response = Response::default();
    response.status = Status::Success;
    response.stack_id = stack_id;
    response.request_id = request_id;
    response.logical_resource_id = logical_resource_id;
    response.physical_resource_id = physical;
    response
}

/// A payload that is not a well-formed request: answered FAILED if it names where to answer (so the
/// stack does not hang), an error otherwise. Read field by field because it did not parse as a whole.
fn malformed(payload: &Value, problem: &dyn std::fmt::Display) -> Result<(String, Response), CustomResourceError> {
    let field = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
    let Some(url) = field("ResponseURL") else { return Err(CustomResourceError::NotARequest(problem.to_string())) };
    let logical = field("LogicalResourceId").unwrap_or_default();
    let physical = field("PhysicalResourceId").unwrap_or_else(|| format!("vault-notifications-{logical}"));
    let mut response =
        respond_to(field("StackId").unwrap_or_default(), field("RequestId").unwrap_or_default(), logical, physical);
    response.status = Status::Failed;
    response.reason = Some(truncated(&format!("malformed custom resource request: {problem}")));
    Ok((url, response))
}

pub(crate) fn truncated(text: &str) -> String {
    text.chars().take(MAX_REASON_CHARS).collect()
}
