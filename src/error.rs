//! Every error the Worker can answer with, mapped to an HTTP status and a JSON body in one place:
//! `{"code": "...", "message": "..."}` (LaunchDarkly's REST error shape).

use edge_exp_core::metric::MetricError;
use edge_exp_core::{BatchError, BodyError};

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    /// 409: the resource exists already, or is in use.
    Conflict(String),
    /// 409: optimistic concurrency check failed.
    VersionConflict(String),
    MethodNotAllowed,
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    /// Storage or runtime failure: retryable, so SDKs retry with the same payload ID.
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) | ApiError::VersionConflict(_) => 409,
            ApiError::MethodNotAllowed => 405,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::VersionConflict(_) => "optimistic_locking_error",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::MethodNotAllowed => "method not allowed on this route".into(),
            ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::VersionConflict(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Internal(m) => m.clone(),
        }
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "code": self.code(), "message": self.message() })
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => ApiError::PayloadTooLarge(e.to_string()),
            BodyError::UnsupportedEncoding(_) => ApiError::UnsupportedMediaType(e.to_string()),
            BodyError::BadGzip(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<MetricError> for ApiError {
    fn from(e: MetricError) -> Self {
        match e {
            MetricError::Invalid(_) => ApiError::BadRequest(e.to_string()),
            MetricError::NotFound(_) => ApiError::NotFound(e.to_string()),
            MetricError::Conflict(_) => ApiError::Conflict(e.to_string()),
            MetricError::VersionConflict { .. } => ApiError::VersionConflict(e.to_string()),
        }
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::Internal(format!("runtime error: {e}"))
    }
}

impl From<worker::kv::KvError> for ApiError {
    fn from(e: worker::kv::KvError) -> Self {
        ApiError::Internal(format!("storage error: {e}"))
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("serialisation error: {e}"))
    }
}
