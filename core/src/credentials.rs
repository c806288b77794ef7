//! Secrets (SDK keys, API access tokens) are stored only as SHA-256 digests and compared in
//! constant time, so neither a storage dump nor response timing reveals them.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Hex SHA-256 of a secret, the form in which it is stored and looked up.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Does `secret` hash to `stored_digest`? Constant time in the digest comparison.
pub fn matches(secret: &str, stored_digest: &str) -> bool {
    digest(secret)
        .as_bytes()
        .ct_eq(stored_digest.as_bytes())
        .into()
}

/// The secret carried by an `Authorization` header: raw (LaunchDarkly style), or after
/// `Bearer ` / `api_key ` prefixes that some clients and relays add.
pub fn from_authorization(header: &str) -> Option<&str> {
    let h = header.trim();
    let raw = match h.split_once(char::is_whitespace) {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("api_key") =>
        {
            rest.trim()
        }
        None if h.eq_ignore_ascii_case("bearer") => "",
        _ => h,
    };
    (!raw.is_empty()).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_hex() {
        // Known vector: SHA-256("abc").
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(matches("abc", &digest("abc")));
        assert!(!matches("abd", &digest("abc")));
        assert!(!matches("abc", "short"));
    }

    #[test]
    fn authorization_forms() {
        assert_eq!(from_authorization("sdk-123"), Some("sdk-123"));
        assert_eq!(from_authorization("Bearer api-9"), Some("api-9"));
        assert_eq!(from_authorization("api_key sdk-1"), Some("sdk-1"));
        assert_eq!(from_authorization("  "), None);
        assert_eq!(from_authorization("Bearer "), None);
    }
}
