//! Answers CloudFormation custom resource requests: one PUT of the response to the request's
//! pre-signed S3 URL (not an AWS API call, so no SDK client; ureq is the workspace's HTTP client).

use aws_lambda_events::cloudformation::CloudFormationCustomResourceResponse;

use crate::ports::{CustomResourceResponder, ResponseError};

pub struct PresignedUrlResponder;

impl CustomResourceResponder for PresignedUrlResponder {
    async fn respond(&self, url: &str, response: &CloudFormationCustomResourceResponse) -> Result<(), ResponseError> {
        let body = serde_json::to_vec(response).map_err(|err| ResponseError(err.to_string()))?;
        let url = url.to_owned();
        // The pre-signed URL is signed for an empty Content-Type; the blocking PUT runs off the runtime thread.
        tokio::task::spawn_blocking(move || ureq::put(&url).header("Content-Type", "").send(&body[..]).map(drop))
            .await
            .map_err(|err| ResponseError(err.to_string()))?
            .map_err(|err| ResponseError(err.to_string()))
    }
}
