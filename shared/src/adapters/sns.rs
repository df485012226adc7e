//! Alerts through `aws-sdk-sns`.
//!
//! Each alert (and each "resolved" message) is one Publish with `MessageStructure: json`
//! (docs/aws-facts.md#sns-publish): the `default` message is the AWS Chatbot custom notification,
//! which every subscriber without a message of its own receives (the Chatbot channel's HTTPS
//! subscription, an SQS queue), and `email` is the readable plain text for e-mail subscribers.
//!
//! The client is built for the topic's region, not the function's: SNS refuses a Publish to a topic
//! of another region, and the organization's alert topic (the template's `AlertTopicArn`) may live in
//! another region than the member stack (docs/aws-facts.md#organization-alert-topic).

use aws_config::{Region, SdkConfig};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use serde::Serialize;

use super::error::classify;
use super::OnFirstUse;
use crate::domain::{Alert, CopyJobId, CustomNotification, IncidentMessage, Resolution, TopicArn};
use crate::ports::{AlertSink, AwsError};

pub struct SnsAlerts {
    client: OnFirstUse<Client>,
    topic: TopicArn,
}

impl SnsAlerts {
    /// The SNS client is built when the first alert is published (most environments never do), for
    /// the topic's region.
    pub fn new(sdk: &SdkConfig, topic: TopicArn) -> Self {
        Self { client: OnFirstUse::new(&in_region_of(sdk, &topic), Client::new), topic }
    }
}

/// The SDK configuration with the topic's region (everything else, endpoint overrides included, as
/// given); as given when the ARN names no region.
fn in_region_of(sdk: &SdkConfig, topic: &TopicArn) -> SdkConfig {
    match topic.region() {
        "" => sdk.clone(),
        region => sdk.to_builder().region(Region::new(region.to_owned())).build(),
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

    async fn incident(&self, message: &IncidentMessage) -> Result<(), AwsError> {
        let structured = message_structure(&message.notification(), &message.body());
        self.publish_message(message.subject(), structured, message.label(), None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chatbot::Thread;
    use aws_config::BehaviorVersion;

    fn function_in_us_east_1() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:5000")
            .build()
    }

    fn client_region(alerts: &SnsAlerts) -> Option<String> {
        alerts.client.get().config().region().map(|region| region.as_ref().to_owned())
    }

    #[test]
    fn alerts_are_published_in_the_topics_region_not_the_functions() {
        let sdk = function_in_us_east_1();
        let central = TopicArn::parse("arn:aws:sns:eu-west-1:111122223333:org-alerts").unwrap();
        assert_eq!(client_region(&SnsAlerts::new(&sdk, central.clone())).as_deref(), Some("eu-west-1"));
        // Only the region changes: the endpoint override (the local stack's, AWS_ENDPOINT_URL) stays.
        assert_eq!(in_region_of(&sdk, &central).endpoint_url(), Some("http://127.0.0.1:5000"));
        let own = TopicArn::parse("arn:aws:sns:us-east-1:123456789012:alerts").unwrap();
        assert_eq!(client_region(&SnsAlerts::new(&sdk, own)).as_deref(), Some("us-east-1"));
        // An ARN without a region keeps the function's.
        let regionless = TopicArn::parse("arn:aws:sns::123456789012:alerts").unwrap();
        assert_eq!(client_region(&SnsAlerts::new(&sdk, regionless)).as_deref(), Some("us-east-1"));
    }

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
