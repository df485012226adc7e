//! Alerts through `aws-sdk-sns`.

use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use super::error::classify;
use super::OnFirstUse;
use crate::domain::{Alert, TopicArn};
use crate::ports::{AlertSink, AwsError};

pub struct SnsAlerts {
    client: OnFirstUse<Client>,
    topic: TopicArn,
}

impl SnsAlerts {
    /// The SNS client is built when the first alert is published (most environments never do).
    pub fn new(sdk: &aws_config::SdkConfig, topic: TopicArn) -> Self {
        Self { client: OnFirstUse::new(sdk, Client::new), topic }
    }
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().expect("data_type is set")
}

impl AlertSink for SnsAlerts {
    async fn publish(&self, alert: &Alert) -> Result<(), AwsError> {
        let mut publish = self
            .client
            .get()
            .publish()
            .topic_arn(self.topic.as_str())
            .subject(alert.subject())
            .message(alert.body())
            // Attributes let subscribers filter (e.g. page only on permanent failures).
            .message_attributes("Reason", string_attribute(alert.reason.summary()));
        if let Some(copy_job) = &alert.copy_job {
            publish = publish.message_attributes("CopyJobId", string_attribute(copy_job.as_str()));
        }
        publish.send().await.map_err(|err| classify("sns", "Publish", err))?;
        Ok(())
    }
}
