//! Pure logic of the edge experimentation platform.
//!
//! Nothing here knows about wasm, Workers, KV or HTTP: the Worker (`src/`) and the browser
//! snippet are thin adapters over these modules, so every rule is unit-tested natively.

pub mod attribution;
pub mod body;
pub mod bucketing;
pub mod context;
pub mod credentials;
pub mod event;
pub mod experiment;
pub mod feed;
pub mod flag;
pub mod keys;
pub mod matcher;
pub mod metric;
pub mod patch;
pub mod results;
pub mod stats;

pub use attribution::{Exposure, ExposureHistory, WINDOW_MS};
pub use body::{decode_body, BodyError, MAX_BODY_BYTES};
pub use context::{Context, ContextError, Unit};
pub use event::{
    parse_batch, parse_batch_with, Batch, BatchError, Event, EventError, RejectedEvent,
};
