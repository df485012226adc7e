//! The retry delay queue through `aws-sdk-sqs`.

use std::time::Duration;

use aws_sdk_sqs::Client;

use super::error::classify;
use super::OnFirstUse;
use crate::domain::MAX_RETRY_DELAY;
use crate::ports::{AwsError, RetryQueue, RetryRequest};

pub struct SqsRetryQueue {
    client: OnFirstUse<Client>,
    queue_url: String,
}

impl SqsRetryQueue {
    /// The SQS client is built when the first retry is scheduled (retries arriving from the queue,
    /// permanent failures and duplicates never need it).
    pub fn new(sdk: &aws_config::SdkConfig, queue_url: String) -> Self {
        Self { client: OnFirstUse::new(sdk, Client::new), queue_url }
    }
}

impl RetryQueue for SqsRetryQueue {
    async fn schedule(&self, request: &RetryRequest, delay: Duration) -> Result<(), AwsError> {
        let body = serde_json::to_string(request).expect("retry requests always serialise");
        let delay_seconds = delay.min(MAX_RETRY_DELAY).as_secs() as i32;
        self.client
            .get()
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds)
            .send()
            .await
            .map_err(|err| classify("sqs", "SendMessage", err))?;
        Ok(())
    }
}
