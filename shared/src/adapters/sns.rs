//! Alerts through `aws-sdk-sns`.
//!
//! Each alert (and each "resolved" message) is one Publish with `MessageStructure: json`
//! (docs/aws-facts.md#sns-publish): the `default` message is the AWS Chatbot custom notification,
//! which every subscriber without a message of its own receives (the Chatbot channel's HTTPS
//! subscription, an SQS queue), and `email` is the readable plain text for e-mail subscribers.

use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use serde::Serialize;

use super::error::classify;
use super::OnFirstUse;
use crate::domain::{Alert, CopyJobId, CustomNotification, Resolution, TopicArn};
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

/// The `Message` of a Publish with `MessageStructure: json`: a JSON object whose keys are
/// transport protocols and whose values are strings; `default` is required.
#[derive(Serialize)]
struct PerProtocol<'a> {
    default: &'a str,
    email: &'a str,
}

/// The message for every protocol: the custom notification by default, plain text by e-mail.
pub fn message_structure(notification: &CustomNotification, email: &str) -> String {
    let default = notification.to_json();
    serde_json::to_string(&PerProtocol { default: &default, email }).expect("strings serialise")
}

impl SnsAlerts {
    /// One Publish with a message per protocol; the attributes let subscribers filter (e.g. page
    /// only on permanent failures).
    async fn publish_message(
        &self,
        subject: String,
        message: String,
        reason: &str,
        copy_job: Option<&str>,
    ) -> Result<(), AwsError> {
        let mut publish = self
            .client
            .get()
            .publish()
            .topic_arn(self.topic.as_str())
            .subject(subject)
            .message_structure("json")
            .message(message)
            .message_attributes("Reason", string_attribute(reason));
        if let Some(copy_job) = copy_job {
            publish = publish.message_attributes("CopyJobId", string_attribute(copy_job));
        }
        publish.send().await.map_err(|err| classify("sns", "Publish", err))?;
        Ok(())
    }
}

impl AlertSink for SnsAlerts {
    async fn publish(&self, alert: &Alert) -> Result<(), AwsError> {
        let message = message_structure(&alert.notification(), &alert.body());
        self.publish_message(
            alert.subject(),
            message,
            alert.reason.summary(),
            alert.copy_job.as_ref().map(CopyJobId::as_str),
        )
        .await
    }

    async fn resolve(&self, resolution: &Resolution) -> Result<(), AwsError> {
        let message = message_structure(&resolution.notification(), &resolution.body());
        self.publish_message(resolution.subject(), message, "resolved", Some(resolution.alerted_job.as_str())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chatbot::Thread;

    #[test]
    fn the_message_holds_a_string_per_protocol_with_default() {
        let thread = Thread { id: "T".into(), summary: "s".into(), event_type: "E" };
        let notification = CustomNotification::new("t", "d \"quoted\"", thread);
        let message: serde_json::Value =
            serde_json::from_str(&message_structure(&notification, "plain\ntext")).unwrap();
        let keys: Vec<&String> = message.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["default", "email"]);
        assert_eq!(message["email"], "plain\ntext");
        let default: serde_json::Value = serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
        assert_eq!(default["content"]["description"], "d \"quoted\"");
    }
}
