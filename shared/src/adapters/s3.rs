//! The evidence bucket through `aws-sdk-s3`: PutObject for the reconciler (the bucket's default
//! Object Lock retention applies to every new version; docs/aws-facts.md#evidence), and for
//! `vaultwatch evidence` ListObjectVersions and GetObject by version.

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::error::classify;
use super::OnFirstUse;
use crate::domain::evidence::StoredVersion;
use crate::ports::{AwsError, EvidenceReader, EvidenceSink};

pub struct S3Evidence {
    client: OnFirstUse<Client>,
    bucket: String,
}

impl S3Evidence {
    /// The client is built on first use (most invocations write nothing). With an endpoint override
    /// (a local S3) addressing is path-style: a local endpoint has no per-bucket host names.
    pub fn new(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        let local = sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let build: fn(&SdkConfig) -> Client = if local { path_style } else { Client::new };
        Self { client: OnFirstUse::new(sdk, build), bucket: bucket.into() }
    }

    fn client(&self) -> &Client {
        self.client.get()
    }
}

fn path_style(sdk: &SdkConfig) -> Client {
    Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

impl EvidenceSink for S3Evidence {
    async fn put_object(&self, key: &str, body: Vec<u8>, content_type: &'static str) -> Result<(), AwsError> {
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| classify("s3", "PutObject", err))?;
        Ok(())
    }
}

impl EvidenceReader for S3Evidence {
    async fn list_versions(&self, prefix: &str) -> Result<Vec<StoredVersion>, AwsError> {
        let client = self.client();
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|err| classify("s3", "ListObjectVersions", err))?;
            versions.extend(page.versions().iter().filter_map(|v| {
                Some(StoredVersion {
                    key: v.key()?.to_owned(),
                    version_id: v.version_id().unwrap_or("null").to_owned(),
                    is_latest: v.is_latest().unwrap_or(false),
                    delete_marker: false,
                })
            }));
            versions.extend(page.delete_markers().iter().filter_map(|m| {
                Some(StoredVersion {
                    key: m.key()?.to_owned(),
                    version_id: m.version_id().unwrap_or("null").to_owned(),
                    is_latest: m.is_latest().unwrap_or(false),
                    delete_marker: true,
                })
            }));
            if page.is_truncated() != Some(true) {
                return Ok(versions);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
    }

    async fn get_version(&self, key: &str, version_id: &str) -> Result<Vec<u8>, AwsError> {
        let output = self
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .version_id(version_id)
            .send()
            .await
            .map_err(|err| classify("s3", "GetObject", err))?;
        let body = output.body.collect().await.map_err(|err| AwsError {
            service: "s3",
            operation: "GetObject",
            class: crate::ports::ErrorClass::Transient,
            code: None,
            message: err.to_string(),
            no_answer: None,
        })?;
        Ok(body.into_bytes().to_vec())
    }
}
