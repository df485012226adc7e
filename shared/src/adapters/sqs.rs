//! The retry delay queue through `aws-sdk-sqs`.

use std::time::Duration;

use aws_sdk_sqs::Client;

use super::error::classify;
use crate::domain::MAX_RETRY_DELAY;
use crate::ports::{AwsError, RetryQueue, RetryRequest};

pub struct SqsRetryQueue {
    client: Client,
    queue_url: String,
}

impl SqsRetryQueue {
    pub fn new(client: Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

impl RetryQueue for SqsRetryQueue {
    async fn schedule(&self, request: &RetryRequest, delay: Duration) -> Result<(), AwsError> {
        let body = serde_json::to_string(request).expect("retry requests always serialise");
        let delay_seconds = delay.min(MAX_RETRY_DELAY).as_secs() as i32;
        self.client
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
