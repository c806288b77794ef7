//! What every REST resource stored in a project (flags, metrics) has in common: a key, a version,
//! a user-set spec validated from JSON, a representation with server-set fields, and JSON Patch
//! over that representation. [`patched`] is the one patch rule for all of them.

use crate::error::Error;
use crate::patch::{self, PatchError};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What users set on a resource: validated from JSON, named by its key.
pub trait Spec: PartialEq + Sized {
    fn key(&self) -> &str;
    /// Validate a spec from its JSON (a create body, or a representation after a patch).
    fn from_json(doc: &Value) -> Result<Self, Error>;
}

pub trait Resource: Clone {
    /// The resource's name in messages: "metric", "flag".
    const KIND: &'static str;
    /// Fields of the representation only the server sets; a patch may not change them.
    const SERVER_FIELDS: &'static [&'static str];
    /// What users set.
    type Spec: Spec;
    /// The representation LaunchDarkly's clients expect.
    type Rep<'a>: Serialize
    where
        Self: 'a;

    fn version(&self) -> u64;
    fn spec(&self) -> &Self::Spec;
    /// The representation in `project`.
    fn rep(&self, project: &str) -> Self::Rep<'_>;
    /// [`Resource::rep`] as JSON: what a patch applies to.
    fn to_rep(&self, project: &str) -> Value {
        as_json(self.rep(project))
    }
    /// The resource with a new spec, one version on.
    fn revised(&self, spec: Self::Spec, now: i64) -> Self;
    fn key(&self) -> &str {
        self.spec().key()
    }
    /// Rules a change must keep beyond validity (e.g. a metric a running experiment uses).
    fn check_change(&self, _next: &Self::Spec) -> Result<(), Error> {
        Ok(())
    }
    /// [`patched`], as a method.
    fn patched(&self, project: &str, patch: &Value, now: i64) -> Result<Self, Error> {
        patched(self, project, patch, now)
    }
}

/// A link of `_links` (`self`, `parent`, `first`, `next`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    pub href: String,
    #[serde(rename = "type")]
    pub media_type: &'static str,
}

/// A representation as a JSON tree. Cannot fail: representations are structs whose maps have
/// string keys.
pub fn as_json(rep: impl Serialize) -> Value {
    serde_json::to_value(rep).unwrap_or(Value::Null)
}

/// The `_links` of the item `key` of the collection at `base`: `self` and `parent`.
pub fn item_links(base: String, key: &str) -> BTreeMap<&'static str, Link> {
    BTreeMap::from([
        ("self", link(format!("{base}/{key}"))),
        ("parent", link(base)),
    ])
}

/// One entry of a representation's `_links`.
pub fn link(href: impl Into<String>) -> Link {
    Link {
        href: href.into(),
        media_type: "application/json",
    }
}

/// Apply a JSON Patch (RFC 6902; a bare array or `{"comment", "patch"}`) to the resource's
/// representation and validate the result as a whole. An unchanged spec keeps the version.
pub fn patched<R: Resource>(
    current: &R,
    project: &str,
    patch: &Value,
    now: i64,
) -> Result<R, Error> {
    let doc = patch::apply(
        &current.to_rep(project),
        patch,
        current.version(),
        R::SERVER_FIELDS,
    )
    .map_err(|e| match e {
        PatchError::Invalid(m) => Error::BadRequest(m),
        PatchError::TooLarge(m) => Error::PayloadTooLarge(m),
        PatchError::Version { current: v, expected } => Error::VersionConflict(format!(
            "{} `{}` is at version {v}, not {expected}: reload and retry",
            R::KIND,
            current.key()
        )),
    })?;
    revise(current, &doc, now)
}

/// A semantic patch: `edit` rewrites the representation, which is then validated as a JSON
/// Patch's result is.
pub fn instructed<R: Resource>(
    current: &R,
    project: &str,
    edit: impl FnOnce(&mut Value) -> Result<(), Error>,
    now: i64,
) -> Result<R, Error> {
    let mut doc = current.to_rep(project);
    edit(&mut doc)?;
    patch::check_size(&doc, "after the instructions").map_err(|e| Error::PayloadTooLarge(e.to_string()))?;
    for field in R::SERVER_FIELDS {
        if doc.get(field) != current.to_rep(project).get(field) {
            return Err(Error::invalid(format!("`{field}` is set by the server and cannot be changed")));
        }
    }
    revise(current, &doc, now)
}

/// The resource as `doc` (its representation, changed) says: validated as a whole, the key
/// unchanged, the resource's own change rules kept; an unchanged spec keeps the version.
pub fn revise<R: Resource>(current: &R, doc: &Value, now: i64) -> Result<R, Error> {
    let spec = R::Spec::from_json(doc)?;
    if spec.key() != current.key() {
        return Err(Error::invalid("`key` cannot be changed"));
    }
    current.check_change(&spec)?;
    if &spec == current.spec() {
        return Ok(current.clone());
    }
    Ok(current.revised(spec, now))
}

/// Check a create body's size before validating it: the same bound patches are held to.
pub fn check_size(body: &Value) -> Result<(), Error> {
    patch::check_size(body, "as given").map_err(|e| Error::PayloadTooLarge(e.to_string()))
}
