//! The one place errors become HTTP: every failure is a core [`Error`] (the product's rules and
//! the Durable Objects' answers use it as it is), wrapped as [`ApiError`] so runtime failures
//! convert with `?`; [`ApiError::status`] is the only mapping from error to status, and
//! `http::error` the only place a response is made from one.

use edge_exp_core::{BatchError, BodyError, Error};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError(pub Error);

impl ApiError {
    pub fn status(&self) -> u16 {
        match self.0 {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::Conflict(_) | Error::VersionConflict(_) => 409,
            Error::MethodNotAllowed(_) => 405,
            Error::PayloadTooLarge(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Internal(_) => 500,
            Error::Unavailable(_) => 503,
        }
    }

    /// LaunchDarkly's REST error body, `{"code", "message"}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "code": self.0.code(), "message": self.0.message() })
    }

    pub fn method_not_allowed() -> Self {
        ApiError(Error::MethodNotAllowed(
            "method not allowed on this route".into(),
        ))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError(Error::Internal(message.into()))
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError(Error::Unavailable(message.into()))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        ApiError(e.into())
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        ApiError(e.into())
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::internal(format!("runtime error: {e}"))
    }
}

impl From<worker::kv::KvError> for ApiError {
    fn from(e: worker::kv::KvError) -> Self {
        ApiError::internal(format!("storage error: {e}"))
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::internal(format!("serialisation error: {e}"))
    }
}
