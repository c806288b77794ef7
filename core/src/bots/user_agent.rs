//! Is this user agent a crawler? npm `isbot`'s list (`patterns.rs`, generated), matched the way
//! `isBot()` matches it: case-insensitively (here: on the lower-cased user agent), anywhere in
//! the string. Plain-text entries are `contains`, `^text` entries `starts_with`; the regular
//! expressions are compiled once per isolate: those anchored at the start as one alternation
//! (cheap: it stops where every branch has failed), each other one alone and only on user
//! agents containing the text all its matches contain, and ending as they end (regex-lite has no literal optimisations,
//! so a search of the whole alternation would cost about 750,000 instructions per browser); the
//! six entries with look-around (which `regex-lite` lacks) are checked in code below. The fixtures test holds
//! this to `isbot`'s own crawler and browser lists.

use super::patterns::{ANCHORED, CONTAINS, REGEXES, STARTS_WITH};
use regex_lite::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Verdicts kept per isolate (user agents repeat: most requests are a cache hit).
const CACHE_ENTRIES: usize = 4_096;
/// Longer user agents are classified every time rather than kept.
const CACHE_KEY_BYTES: usize = 512;

thread_local! {
    static CACHE: RefCell<HashMap<String, bool>> = RefCell::new(HashMap::new());
}

/// The compiled expressions: the anchored alternation, and each other one with its text.
struct Compiled {
    anchored: Regex,
    others: Vec<(&'static str, &'static str, Regex)>,
}

fn compiled() -> Option<&'static Compiled> {
    static COMPILED: OnceLock<Option<Compiled>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            let alternation: Vec<String> = ANCHORED.iter().map(|r| format!("(?:{r})")).collect();
            let others = REGEXES
                .iter()
                .map(|(text, end, r)| Some((*text, *end, Regex::new(r).ok()?)));
            Some(Compiled {
                anchored: Regex::new(&alternation.join("|")).ok()?,
                others: others.collect::<Option<Vec<_>>>()?,
            })
        })
        .as_ref()
}

/// Does `isbot`'s list match this user agent?
pub fn is_crawler(user_agent: &str) -> bool {
    let cacheable = user_agent.len() <= CACHE_KEY_BYTES;
    if cacheable {
        if let Some(hit) = CACHE.with(|c| c.borrow().get(user_agent).copied()) {
            return hit;
        }
    }
    let verdict = matches(&user_agent.to_ascii_lowercase());
    if cacheable {
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CACHE_ENTRIES {
                c.clear();
            }
            c.insert(user_agent.to_owned(), verdict);
        });
    }
    verdict
}

/// The list against a lower-cased user agent, cheapest checks first.
fn matches(ua: &str) -> bool {
    CONTAINS.iter().any(|p| ua.contains(p))
        || STARTS_WITH.iter().any(|p| ua.starts_with(p))
        || look_around(ua)
        || regexes(ua)
}

/// The regular expressions (they always compile, a test says so; if not, the rest still runs).
fn regexes(ua: &str) -> bool {
    compiled().is_some_and(|c| {
        c.anchored.is_match(ua)
            || c.others.iter().any(|(text, end, r)| {
                ua.ends_with(end) && ua.contains(text) && r.is_match(ua)
            })
    })
}

/// `isbot`'s look-around entries, in the order of `patterns::LOOK_AROUND`.
fn look_around(ua: &str) -> bool {
    news(ua)
        || google(ua)
        || bots(ua)
        || not_after(ua, "scan", "cam")
        || not_after(ua, "http", "lib")
        || ua.match_indices("java").any(|(i, _)| !ua[i + 4..].starts_with(';'))
}

/// `(?:^|[^g])news(?!sapphire)`
fn news(ua: &str) -> bool {
    ua.match_indices("news")
        .any(|(i, _)| (i == 0 || ua.as_bytes()[i - 1] != b'g') && !ua[i + 4..].starts_with("sapphire"))
}

/// `(?<! channel/|google/)google(?!(?:wv|app|/google| pixel))`
fn google(ua: &str) -> bool {
    ua.match_indices("google").any(|(i, _)| {
        let (before, after) = (&ua[..i], &ua[i + 6..]);
        !before.ends_with(" channel/")
            && !before.ends_with("google/")
            && !["wv", "app", "/google", " pixel"].iter().any(|s| after.starts_with(s))
    })
}

/// `(?<! cu)bots?(?:\b|_)`: after `bot` or `bots`, a word boundary or `_` (the character before
/// is a letter, so that is: the end, or anything but an ASCII letter or digit). ` cu` before
/// keeps Cubot phones human.
fn bots(ua: &str) -> bool {
    let b = ua.as_bytes();
    let ends = |at: usize| b.get(at).is_none_or(|c| !c.is_ascii_alphanumeric());
    ua.match_indices("bot").any(|(i, _)| {
        let next = i + 3;
        !ua[..i].ends_with(" cu") && (ends(next) || (b.get(next) == Some(&b's') && ends(next + 1)))
    })
}

/// `(?<!{before})needle`
fn not_after(ua: &str, needle: &str, before: &str) -> bool {
    ua.match_indices(needle).any(|(i, _)| !ua[..i].ends_with(before))
}

#[cfg(test)]
mod tests {
    use super::super::patterns::LOOK_AROUND;
    use super::*;

    fn fixture(name: &str) -> Vec<String> {
        let text = match name {
            "crawlers" => include_str!("fixtures/crawlers.json"),
            _ => include_str!("fixtures/browsers.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn every_crawler_of_isbots_fixtures_is_a_bot() {
        let missed: Vec<String> = fixture("crawlers").into_iter().filter(|ua| !is_crawler(ua)).collect();
        assert!(missed.is_empty(), "{} of isbot's crawlers missed: {missed:#?}", missed.len());
    }

    #[test]
    fn no_browser_of_isbots_fixtures_is_a_bot() {
        let flagged: Vec<String> = fixture("browsers").into_iter().filter(|ua| is_crawler(ua)).collect();
        assert!(flagged.is_empty(), "{} of isbot's browsers flagged: {flagged:#?}", flagged.len());
    }

    #[test]
    fn the_regular_expressions_compile_alone_and_together() {
        for r in ANCHORED.iter().chain(REGEXES.iter().map(|(_, _, r)| r)) {
            assert!(Regex::new(r).is_ok(), "{r}");
        }
        assert!(compiled().is_some());
        assert_eq!(LOOK_AROUND.len(), 6, "user_agent.rs implements exactly these: {LOOK_AROUND:?}");
    }

    /// The generator's claim that every match of an expression contains its text, checked on
    /// every fixture (a wrong text would make the matcher miss what `isbot` catches).
    #[test]
    fn every_match_of_an_expression_contains_its_text() {
        let all = fixture("crawlers").into_iter().chain(fixture("browsers"));
        for ua in all.map(|ua| ua.to_ascii_lowercase()) {
            for (text, end, r) in REGEXES {
                if Regex::new(r).unwrap().is_match(&ua) {
                    assert!(ua.contains(text) && ua.ends_with(end), "`{r}` matches {ua:?} without `{text}`/`{end}`");
                }
            }
        }
        assert!(REGEXES.iter().filter(|(t, _, _)| t.is_empty()).count() <= 2, "most expressions have a text");
    }

    #[test]
    fn each_look_around_entry_matches_and_spares_what_its_regex_does() {
        let cases = [
            ("a newsreader/1", true), ("gnews/1", false), ("x newssapphire/2", false), ("news", true),
            ("mozilla google/1", true), ("x channel/google/1", false), ("googlewv", false), ("google app", true),
            ("googleapp", false), ("google pixel 8", false), ("google/google", false),
            ("somebot/1", true), ("somebots;", true), ("bot_x", true), ("robotics", false), ("cubot", true),
            ("x cubot p40", false), ("botany", false), ("botsx", false),
            ("scanner", true), ("webcamscan", false), ("http://x", true), ("libhttp", false),
            ("java/17", true), ("java;", false),
        ];
        for (ua, bot) in cases {
            assert_eq!(look_around(ua), bot, "{ua}");
        }
    }

    #[test]
    fn the_cache_gives_the_same_answers() {
        let ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        assert!(is_crawler(ua) && is_crawler(ua));
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert!(!is_crawler(chrome) && !is_crawler(chrome));
    }
}
