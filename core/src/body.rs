//! Request bodies: optional gzip, and the size limit counted on the inflated bytes (so a small
//! compressed "bomb" cannot expand past it).

use flate2::read::GzDecoder;
use std::io::Read;
use thiserror::Error;

/// Largest event payload accepted, after decompression.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("Content-Encoding `{0}` is not supported (use gzip or none)")]
    UnsupportedEncoding(String),
    #[error("body is not valid gzip: {0}")]
    BadGzip(String),
}

/// Decode a body per its `Content-Encoding` and enforce [`MAX_BODY_BYTES`].
pub fn decode_body(raw: Vec<u8>, content_encoding: Option<&str>) -> Result<Vec<u8>, BodyError> {
    let encoding = content_encoding.map(str::trim).unwrap_or("");
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return if raw.len() > MAX_BODY_BYTES {
            Err(BodyError::TooLarge)
        } else {
            Ok(raw)
        };
    }
    if !encoding.eq_ignore_ascii_case("gzip") && !encoding.eq_ignore_ascii_case("x-gzip") {
        return Err(BodyError::UnsupportedEncoding(encoding.to_owned()));
    }
    let mut out = Vec::new();
    // Read one byte past the limit: if it arrives, the body is too large.
    GzDecoder::new(raw.as_slice())
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::BadGzip(e.to_string()))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_and_gzip_bodies() {
        assert_eq!(decode_body(b"[1]".to_vec(), None).unwrap(), b"[1]");
        assert_eq!(decode_body(gzip(b"[2]"), Some("gzip")).unwrap(), b"[2]");
        assert_eq!(decode_body(gzip(b"[3]"), Some(" GZIP ")).unwrap(), b"[3]");
    }

    #[test]
    fn limit_counts_inflated_size() {
        let exactly = vec![b' '; MAX_BODY_BYTES];
        assert!(decode_body(gzip(&exactly), Some("gzip")).is_ok());
        let over = vec![b' '; MAX_BODY_BYTES + 1];
        let compressed = gzip(&over);
        assert!(
            compressed.len() < 10_000,
            "test needs a small compressed body"
        );
        assert_eq!(
            decode_body(compressed, Some("gzip")),
            Err(BodyError::TooLarge)
        );
        assert_eq!(decode_body(over, None), Err(BodyError::TooLarge));
    }

    #[test]
    fn bad_encodings() {
        assert!(matches!(
            decode_body(b"nope".to_vec(), Some("gzip")),
            Err(BodyError::BadGzip(_))
        ));
        assert_eq!(
            decode_body(b"x".to_vec(), Some("br")),
            Err(BodyError::UnsupportedEncoding("br".into()))
        );
    }
}
