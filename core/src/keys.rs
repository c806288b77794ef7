//! Storage keys. Context keys and flag keys may contain any character (including the `:`
//! separator) and be long, while KV keys are limited to 512 bytes, so identifying tuples are
//! hashed: a fixed-length, unambiguous key.

use sha2::{Digest, Sha256};

/// `prefix` and the hex SHA-256 of a tuple of strings with length prefixes, so ("a:b","c") and
/// ("a","b:c") differ. Built in one allocation: exposure keys are made for every exposure.
fn tuple_digest(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let mut hex = [0u8; 64];
    let mut out = String::with_capacity(prefix.len() + hex.len());
    out.push_str(prefix);
    if hex::encode_to_slice(h.finalize(), &mut hex).is_ok() {
        out.extend(hex.iter().map(|&b| char::from(b)));
    }
    out
}

/// KV key of one unit's exposure history for one flag in one environment.
pub fn exposure_key(project: &str, env: &str, flag: &str, kind: &str, key: &str) -> String {
    tuple_digest("x:", &[project, env, flag, kind, key])
}

/// KV key recording that a payload ID was processed in an environment, per route class (`sdk`,
/// `browser`, `import`): the public browser route cannot claim an ID sent with the SDK key.
pub fn payload_key(project: &str, env: &str, class: &str, payload_id: &str) -> String {
    tuple_digest("p:", &[project, env, class, payload_id])
}

/// KV key of an iteration's frozen counts: [project, environment, experiment, iteration].
pub fn frozen_key(place: [&str; 4]) -> String {
    tuple_digest("r:", &place)
}

/// A short fingerprint of a payload body (FNV-1a 64, hex), to tell an SDK retry (same body) from
/// a payload ID reused for different events. Not a security hash: only the sender's own ID is at
/// stake.
pub fn body_digest(body: &[u8]) -> String {
    format!("{:016x}", fnv1a64(body))
}

/// FNV-1a, 64 bits: a fast hash that is stable across versions (it places units on counter
/// shards and fingerprints payload bodies). Not for anything an attacker may want to collide.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unambiguous_and_bounded() {
        assert_ne!(
            exposure_key("p", "e", "a:b", "user", "c"),
            exposure_key("p", "e", "a", "b:user", "c")
        );
        let long = "k".repeat(10_000);
        assert_eq!(exposure_key("p", "e", "f", "user", &long).len(), 66);
        assert_ne!(payload_key("p", "e", "sdk", "1"), payload_key("p", "f", "sdk", "1"));
        // Stored histories are found by this key: its form must never change (value computed
        // independently with Python's hashlib: SHA-256 over u64-LE length + bytes of each part).
        assert_eq!(
            exposure_key("p", "e", "f", "user", "u"),
            "x:5edeed45f41ee4357d0b9c7f6f12378010e53187335fe79679639adc20675995"
        );
        // FNV-1a 64 published vectors: stored shard placements depend on them never changing.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
