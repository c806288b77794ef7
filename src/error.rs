//! Every error the Worker can answer with, mapped to an HTTP status and a JSON body in one place:
//! `{"code": "...", "message": "..."}` (LaunchDarkly's REST error shape).

use edge_exp_core::experiment::ExperimentError;
use edge_exp_core::flag::FlagError;
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

    /// Rebuild an error from a status and `{"code", "message"}` body (a Durable Object's reply).
    pub fn from_reply(status: u16, body: &serde_json::Value) -> Self {
        let message = body
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("internal error")
            .to_owned();
        match (status, body.get("code").and_then(|c| c.as_str())) {
            (400, _) => ApiError::BadRequest(message),
            (401, _) => ApiError::Unauthorized(message),
            (403, _) => ApiError::Forbidden(message),
            (404, _) => ApiError::NotFound(message),
            (409, Some("optimistic_locking_error")) => ApiError::VersionConflict(message),
            (409, _) => ApiError::Conflict(message),
            _ => ApiError::Internal(message),
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
            MetricError::TooLarge(_) => ApiError::PayloadTooLarge(e.to_string()),
            MetricError::NotFound(_) => ApiError::NotFound(e.to_string()),
            MetricError::Conflict(_) => ApiError::Conflict(e.to_string()),
            MetricError::VersionConflict { .. } => ApiError::VersionConflict(e.to_string()),
        }
    }
}

impl From<FlagError> for ApiError {
    fn from(e: FlagError) -> Self {
        match e {
            FlagError::Invalid(_) => ApiError::BadRequest(e.to_string()),
            FlagError::TooLarge(_) => ApiError::PayloadTooLarge(e.to_string()),
            FlagError::NotFound(_) => ApiError::NotFound(e.to_string()),
            FlagError::Conflict(_) => ApiError::Conflict(e.to_string()),
            FlagError::VersionConflict { .. } => ApiError::VersionConflict(e.to_string()),
        }
    }
}

impl From<ExperimentError> for ApiError {
    fn from(e: ExperimentError) -> Self {
        match e {
            ExperimentError::Invalid(_) => ApiError::BadRequest(e.to_string()),
            ExperimentError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ExperimentError::Conflict(_) => ApiError::Conflict(e.to_string()),
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
