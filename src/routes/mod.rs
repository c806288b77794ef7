//! One module per route family. Handlers return `Result<Response, ApiError>`; the router turns
//! errors into responses.

pub mod attribution;
pub mod auth;
pub mod body;
pub mod bot_filter;
pub mod client_stream;
pub mod event_keys;
pub mod events;
pub mod experiments;
pub mod feed;
pub mod metrics;
pub mod percentiles;
pub mod rest;
pub mod rollouts;
pub mod sdk;
pub mod server_sdk;
pub mod tokens;
pub mod webhooks;
