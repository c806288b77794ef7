//! Flag evaluation with LaunchDarkly's semantics: the SDK data model of flags and segments
//! (`model`), contexts (`context`) and attribute references (`attribute`), clause operators
//! (`operators`, `semver`, `date`), evaluation reasons (`reason`) and the evaluator itself
//! (`evaluate`): off, prerequisites, individual and context targets, rules, fallthrough, percentage
//! and experiment rollouts, segments (included/excluded lists, rules with weights), with cycles in
//! prerequisites or segments reported as errors, never followed for ever.
//!
//! The semantics follow LaunchDarkly's server SDKs (read from `launchdarkly/js-core`'s evaluator)
//! and are held to the cases of LaunchDarkly's conformance suite (`core/tests/ld_eval_cases.rs`)
//! and to LaunchDarkly's Node server SDK on random flags (`tests/targeting-parity.test.mjs`).

pub mod attribute;
pub mod context;
mod date;
pub mod evaluate;
pub mod model;
pub mod operators;
pub mod reason;
mod semver;

pub use evaluate::{evaluate, AllData, Detail, Store};
pub use model::{FlagData, Segment};
pub use reason::{ErrorKind, Reason};
