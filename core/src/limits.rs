//! Size caps of single text fields of stored resources (flags, metrics, experiments). Whole
//! documents are capped separately (`patch::MAX_DOCUMENT_BYTES`); these keep any one field from
//! taking a document's whole budget (a 200 KB description every browser then downloads).

/// Descriptions and hypotheses, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 16 * 1024;
/// Tags per resource, and each tag's length in bytes.
pub const MAX_TAGS: usize = 100;
pub const MAX_TAG_BYTES: usize = 256;
/// Every other text field (names, event keys, units, selectors, URL patterns), in bytes.
pub const MAX_TEXT_BYTES: usize = 2048;

/// The cap of a text field, by name.
pub fn cap(field: &str) -> usize {
    match field {
        "description" | "hypothesis" => MAX_DESCRIPTION_BYTES,
        "tags" => MAX_TAG_BYTES,
        _ => MAX_TEXT_BYTES,
    }
}

/// Refuse `value` when over `field`'s cap, naming the field and the cap.
pub fn check(field: &str, value: &str) -> Result<(), String> {
    let max = cap(field);
    if value.len() > max {
        return Err(format!("`{field}` is {} bytes; at most {max} are allowed", value.len()));
    }
    Ok(())
}

/// Refuse a tag list with too many tags or a tag over its cap.
pub fn check_tags(tags: &[String]) -> Result<(), String> {
    if tags.len() > MAX_TAGS {
        return Err(format!("`tags` has {} tags; at most {MAX_TAGS} are allowed", tags.len()));
    }
    tags.iter().try_for_each(|t| check("tags", t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_name_field_and_limit() {
        assert!(check("name", &"x".repeat(MAX_TEXT_BYTES)).is_ok());
        assert_eq!(
            check("name", &"x".repeat(MAX_TEXT_BYTES + 1)).unwrap_err(),
            "`name` is 2049 bytes; at most 2048 are allowed"
        );
        assert!(check("description", &"é".repeat(MAX_DESCRIPTION_BYTES / 2 + 1)).is_err());
        assert!(check_tags(&vec!["t".into(); MAX_TAGS + 1]).unwrap_err().contains("at most 100"));
        assert!(check_tags(&["t".repeat(MAX_TAG_BYTES + 1)]).unwrap_err().contains("`tags`"));
    }
}
