//! Pure logic of the edge experimentation platform.
//!
//! Nothing here knows about wasm, Workers, KV or HTTP: the Worker (`src/`) and the browser
//! snippet are thin adapters over these modules, so every rule is unit-tested natively.
//!
//! Without the default `std` feature only [`matcher`] is built (`no_std` + `alloc`, no
//! dependencies): the browser snippet links that alone, so it shares the URL rules without
//! carrying serde and the rest into its wasm.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod matcher;

/// Items built only with the `std` feature.
macro_rules! with_std {
    ($($item:item)*) => { $( #[cfg(feature = "std")] $item )* };
}

with_std! {
    pub mod aggregates;
    pub mod analysis;
    pub mod attribution;
    pub mod body;
    pub mod bots;
    pub mod bucketing;
    pub mod catalog;
    pub mod context;
    pub mod credentials;
    pub mod event;
    pub mod fast_event;
    pub mod error;
    pub mod experiment;
    pub mod fields;
    pub mod feed;
    pub mod flag;
    pub mod keys;
    pub mod limits;
    pub mod metric;
    pub mod patch;
    pub mod project;
    pub mod publish;
    pub mod query;
    pub mod queued;
    pub mod raw;
    pub mod resource;
    pub mod results;
    pub mod rollout;
    pub mod segment;
    pub mod semantic;
    pub mod stats;
    pub mod targeting;
    pub mod token;
    pub mod webhook;
    #[cfg(feature = "openapi")]
    pub mod openapi;

    pub use attribution::{Exposure, ExposureHistory, WINDOW_MS};
    pub use error::Error;
    pub use body::{decode_body, BodyError, MAX_BODY_BYTES};
    pub use context::{Context, ContextError, Unit};
    pub use event::{
        parse_batch, parse_batch_with, Batch, BatchError, Event, EventError, RejectedEvent,
    };
}
