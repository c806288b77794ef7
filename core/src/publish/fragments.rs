//! The `/sdk/latest-all` body of one environment, assembled from one JSON fragment per flag and
//! segment kept between publications: a change to one flag serialises that flag again, not the
//! environment (with 1,000 flags the whole body is ~700 KB, and serialising and hashing it was
//! most of the CPU of a REST flag change in the project's object).
//!
//! A fragment is dropped when a command changes its item ([`EnvironmentBody::forget`]), and is
//! kept only while its item's [`Stamp`] is unchanged too (every change raises a version: the
//! SDKs' streams rely on that as well). The stamp alone would not do: a flag deleted and made
//! again in the same millisecond (Workers' clock stands still during a request) has the same
//! one. The body is byte for byte what [`super::latest_all`] writes for the same
//! data (tested), so readers cannot tell the two apart.

use crate::project::Record;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What identifies one content of an item: its version and creation date.
pub type Stamp = (u64, i64);

#[derive(Debug, Clone)]
struct Fragment {
    stamp: Stamp,
    /// The item as the body carries it.
    json: String,
    /// SHA-256 of `json`: the ETag is a digest over these, not over the whole body.
    digest: [u8; 32],
}

/// The fragments of one kind (flags or segments), by key.
#[derive(Debug, Default, Clone)]
pub struct Fragments(BTreeMap<String, Fragment>);

impl Fragments {
    /// Keep exactly one fragment per item of `items` (key, stamp, item): an item whose stamp is
    /// unchanged keeps its fragment, any other is written again by `sdk`; keys not among `items`
    /// are dropped.
    pub fn update<'a, S: 'a, T: Serialize>(
        &mut self,
        items: impl IntoIterator<Item = (&'a str, Stamp, &'a S)>,
        sdk: impl Fn(&S) -> T,
    ) {
        let mut kept = std::mem::take(&mut self.0);
        for (key, stamp, item) in items {
            let fragment = match kept.remove(key) {
                Some(f) if f.stamp == stamp => f,
                _ => {
                    // A struct of strings, numbers and JSON values: serialising cannot fail.
                    let json = serde_json::to_string(&sdk(item)).unwrap_or_else(|_| "null".into());
                    let digest = Sha256::digest(json.as_bytes()).into();
                    Fragment { stamp, json, digest }
                }
            };
            self.0.insert(key.to_owned(), fragment);
        }
    }

    fn forget(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn write(&self, body: &mut String) {
        body.push('{');
        for (i, (key, f)) in self.0.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            // A string serialises without fail.
            body.push_str(&serde_json::to_string(key).unwrap_or_default());
            body.push(':');
            body.push_str(&f.json);
        }
        body.push('}');
    }

    fn hash(&self, kind: &str, hasher: &mut Sha256) {
        for (key, f) in &self.0 {
            // Lengths first: no two different sequences of (key, digest) hash the same text.
            hasher.update(kind.as_bytes());
            hasher.update((key.len() as u64).to_le_bytes());
            hasher.update(key.as_bytes());
            hasher.update(f.digest);
        }
    }

    fn len(&self) -> usize {
        self.0.values().map(|f| f.json.len() + 8).sum()
    }
}

/// One environment's flags and segments as fragments.
#[derive(Debug, Default, Clone)]
pub struct EnvironmentBody {
    pub flags: Fragments,
    pub segments: Fragments,
}

impl EnvironmentBody {
    /// Drop the fragments of what `changed` names in environment `env`.
    pub fn forget(&mut self, env: &str, changed: &[Record]) {
        for record in changed {
            match record {
                Record::Flag(key) => self.flags.forget(key),
                Record::Segment(id) => match id.split_once(':') {
                    Some((e, key)) if e == env => self.segments.forget(key),
                    _ => {}
                },
                _ => {}
            }
        }
    }

    /// The body (`{"flags": {…}, "segments": {…}}`, keys sorted) and its quoted ETag: a digest of
    /// every item's key and digest, so equal data always has an equal ETag.
    pub fn assemble(&self) -> (String, String) {
        let mut body = String::with_capacity(32 + self.flags.len() + self.segments.len());
        body.push_str("{\"flags\":");
        self.flags.write(&mut body);
        body.push_str(",\"segments\":");
        self.segments.write(&mut body);
        body.push('}');
        let mut hasher = Sha256::new();
        self.flags.hash("flags", &mut hasher);
        self.segments.hash("segments", &mut hasher);
        let etag = format!("\"{}\"", &hex::encode(hasher.finalize())[..32]);
        (body, etag)
    }
}
