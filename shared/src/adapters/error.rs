//! Classifying SDK errors once, for every adapter.

use aws_sdk_backup::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::domain::{Cause, FailureClass};
use crate::ports::{AwsError, ErrorClass};

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
    AwsError { service, operation, class, code, message: truncate(message) }
}

/// A response that is not what the API promises (a required member missing or unparsable).
pub(super) fn malformed(service: &'static str, operation: &'static str, what: impl std::fmt::Display) -> AwsError {
    AwsError {
        service,
        operation,
        class: ErrorClass::Permanent,
        code: Some("MalformedResponse".into()),
        message: format!("response {what}"),
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

#[cfg(test)]
mod tests {
    use aws_sdk_backup::error::ErrorMetadata;
    use aws_sdk_backup::operation::start_copy_job::StartCopyJobError;
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
    }
}
