//! The one error type of the product's rules. Every rule in core fails with an [`Error`]; Durable
//! Objects send it to the Worker as it is (it serialises to LaunchDarkly's REST error body,
//! `{"code": "...", "message": "..."}`), and the Worker's `error.rs` alone gives it an HTTP status.

use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

#[derive(Debug, Clone, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[serde(tag = "code", content = "message")]
pub enum Error {
    /// A field or parameter is wrong: which one and why.
    #[serde(rename = "invalid_request")]
    #[error("{0}")]
    BadRequest(String),
    #[serde(rename = "unauthorized")]
    #[error("{0}")]
    Unauthorized(String),
    #[serde(rename = "forbidden")]
    #[error("{0}")]
    Forbidden(String),
    #[serde(rename = "not_found")]
    #[error("{0}")]
    NotFound(String),
    /// The resource exists already, or is in use.
    #[serde(rename = "conflict")]
    #[error("{0}")]
    Conflict(String),
    /// An optimistic concurrency check (`test` of `/_version`) failed.
    #[serde(rename = "optimistic_locking_error")]
    #[error("{0}")]
    VersionConflict(String),
    #[serde(rename = "method_not_allowed")]
    #[error("{0}")]
    MethodNotAllowed(String),
    #[serde(rename = "payload_too_large")]
    #[error("{0}")]
    PayloadTooLarge(String),
    #[serde(rename = "unsupported_media_type")]
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Storage or runtime failure: retryable.
    #[serde(rename = "internal_error")]
    #[error("{0}")]
    Internal(String),
    /// Not ready yet, or a transient failure the caller should retry (an SDK retries a 503
    /// where it gives up for good on most 4xx).
    #[serde(rename = "service_unavailable")]
    #[error("{0}")]
    Unavailable(String),
}

impl Error {
    /// A 400 naming the field and the problem.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }

    /// A resource of `kind` (e.g. "metric") with `key` does not exist.
    pub fn not_found(kind: &str, key: &str) -> Self {
        Error::NotFound(format!("{kind} `{key}` not found"))
    }

    /// LaunchDarkly's code for the error (`invalid_request`, `not_found`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "invalid_request",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::VersionConflict(_) => "optimistic_locking_error",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Internal(_) => "internal_error",
            Error::Unavailable(_) => "service_unavailable",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::BadRequest(m)
            | Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::VersionConflict(m)
            | Error::MethodNotAllowed(m)
            | Error::PayloadTooLarge(m)
            | Error::UnsupportedMediaType(m)
            | Error::Internal(m)
            | Error::Unavailable(m) => m,
        }
    }
}

impl From<crate::body::BodyError> for Error {
    fn from(e: crate::body::BodyError) -> Self {
        use crate::body::BodyError;
        match e {
            BodyError::TooLarge => Error::PayloadTooLarge(e.to_string()),
            BodyError::UnsupportedEncoding(_) => Error::UnsupportedMediaType(e.to_string()),
            BodyError::BadGzip(_) => Error::BadRequest(e.to_string()),
        }
    }
}

impl From<crate::event::BatchError> for Error {
    fn from(e: crate::event::BatchError) -> Self {
        Error::BadRequest(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_to_launchdarklys_error_body_and_back() {
        let e = Error::VersionConflict("metric `m` is at version 2".into());
        let body = serde_json::to_value(&e).unwrap();
        assert_eq!(
            body,
            json!({"code": "optimistic_locking_error", "message": "metric `m` is at version 2"})
        );
        assert_eq!(body["code"], e.code());
        assert_eq!(serde_json::from_value::<Error>(body).unwrap(), e);
    }

    #[test]
    fn every_code_round_trips() {
        let all = [
            Error::BadRequest("a".into()),
            Error::Unauthorized("b".into()),
            Error::Forbidden("c".into()),
            Error::not_found("flag", "f"),
            Error::Conflict("d".into()),
            Error::VersionConflict("e".into()),
            Error::MethodNotAllowed("f".into()),
            Error::PayloadTooLarge("g".into()),
            Error::UnsupportedMediaType("h".into()),
            Error::Internal("i".into()),
            Error::Unavailable("u".into()),
        ];
        for e in all {
            let body = serde_json::to_value(&e).unwrap();
            assert_eq!(body["code"], e.code(), "{e:?}");
            assert_eq!(body["message"], e.message(), "{e:?}");
            assert_eq!(serde_json::from_value::<Error>(body).unwrap(), e);
        }
    }
}
