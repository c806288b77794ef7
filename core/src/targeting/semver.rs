//! Semantic versions for the `semVer*` operators, parsed as LaunchDarkly's SDKs do: strict
//! SemVer 2.0 (`1.2.3-rc.1+build`), or a version with one or two of its numbers missing
//! (`2`, `2.1-rc`), completed with `.0`. A leading `v` is not a version.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    numbers: [u64; 3],
    pre: Vec<Identifier>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Identifier {
    Numeric(u64),
    Text(String),
}

/// Largest number a version component may be (JavaScript's safe integers, as node-semver).
const MAX_NUMBER: u64 = (1 << 53) - 1;

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        if text.starts_with('v') {
            return None;
        }
        strict(text.trim()).or_else(|| loose(text.trim()))
    }
}

/// `major.minor.patch` with optional `-prerelease` and `+build`.
fn strict(text: &str) -> Option<Version> {
    let (rest, _build) = match text.split_once('+') {
        Some((v, b)) => (v, Some(b).filter(|b| valid_build(b))?),
        None => (text, ""),
    };
    let (main, pre) = match rest.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (rest, None),
    };
    let mut parts = main.split('.');
    let numbers = [number(parts.next()?)?, number(parts.next()?)?, number(parts.next()?)?];
    if parts.next().is_some() {
        return None;
    }
    let pre = match pre {
        Some(p) => p.split('.').map(identifier).collect::<Option<Vec<_>>>()?,
        None => Vec::new(),
    };
    Some(Version { numbers, pre })
}

/// One to three leading numbers, completed with `.0`, then whatever followed them.
fn loose(text: &str) -> Option<Version> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let mut end = digits(text);
    if end == 0 {
        return None;
    }
    let mut found = 1;
    while found < 3 && text[end..].starts_with('.') && digits(&text[end + 1..]) > 0 {
        end += 1 + digits(&text[end + 1..]);
        found += 1;
    }
    let mut completed = text[..end].to_owned();
    for _ in found..3 {
        completed.push_str(".0");
    }
    completed.push_str(&text[end..]);
    strict(&completed)
}

fn number(s: &str) -> Option<u64> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten().filter(|n| *n <= MAX_NUMBER)
}

fn identifier(s: &str) -> Option<Identifier> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return number(s).map(Identifier::Numeric);
    }
    Some(Identifier::Text(s.to_owned()))
}

fn valid_build(b: &str) -> bool {
    b.split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
}

impl Ord for Version {
    /// SemVer precedence: numbers, then a prerelease sorts before the release, identifiers one
    /// by one (numbers before text, numbers numerically, text in ASCII order, fewer first).
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &other.pre),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_pre(a: &[Identifier], b: &[Identifier]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Identifier::Numeric(m), Identifier::Numeric(n)) => m.cmp(n),
            (Identifier::Numeric(_), Identifier::Text(_)) => Ordering::Less,
            (Identifier::Text(_), Identifier::Numeric(_)) => Ordering::Greater,
            (Identifier::Text(s), Identifier::Text(t)) => s.cmp(t),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_strict_and_completed_versions() {
        assert_eq!(v("2"), v("2.0.0"));
        assert_eq!(v("2.1"), v("2.1.0"));
        assert_eq!(v("2-rc1"), v("2.0.0-rc1"));
        assert_eq!(v("2.0.0+build"), v("2.0.0"), "build metadata does not count");
        for bad in ["v1.2.3", "", "x", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-a..b", "1.2.3+"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn precedence() {
        let order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"];
        for pair in order.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }
}
