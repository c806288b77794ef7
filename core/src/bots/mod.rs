//! Bots kept out of experiments: which browser-facing requests come from a bot, from signals known
//! before a variation is shown (so excluding them cannot depend on the variation, which would
//! bias the arms), and what a bot's evaluations look like.
//!
//! The signals, in the order they are checked (the first that says "bot" is the reason):
//! - the operator's own user-agent deny list;
//! - Cloudflare's verdicts: `cf.verifiedBotCategory` (every plan), `botManagement.verifiedBot`
//!   and `botManagement.score` (Enterprise Bot Management; a score of 0 is "not computed", and a
//!   corporate proxy is never excluded by score); a verified bot of a category the operator
//!   keeps is kept, whatever the other signals say;
//! - Web Bot Auth: a `Signature-Agent` header, or a `Signature-Input` with `tag="web-bot-auth"`
//!   (a browser never sends them; a spoofer only excludes itself, so no signature is verified);
//! - the user agent: empty (every browser sends one), or matched by npm `isbot`'s list
//!   ([`user_agent`]), unless the operator's allow list names it.
//!
//! A bot is still bucketed as usual (serving crawlers something else is cloaking, by search
//! engines' rules); nothing of it is recorded: [`untracked`] makes its evaluations send no
//! exposure, and the events route drops its events before attribution.

pub mod context_flag;
pub mod overrides;
pub mod excluded;
pub mod patterns;
pub mod serve_control;
pub mod user_agent;

use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Cloudflare's verified-bot categories (`cf.verifiedBotCategory`), as documented.
pub const VERIFIED_CATEGORIES: &[&str] = &[
    "Search Engine Crawler",
    "Search Engine Optimization",
    "Monitoring & Analytics",
    "Advertising & Marketing",
    "Social Media Marketing",
    "Page Preview",
    "Academic Research",
    "Security",
    "Accessibility",
    "Webhooks",
    "Feed Fetcher",
    "AI Crawler",
    "AI Assistant",
    "AI Search",
    "Aggregator",
    "Archiver",
    "Other",
];

/// An environment's bot filter (`GET/PUT /api/v2/projects/{p}/environments/{e}/bot-filter`).
/// Unknown fields are refused: an option we do not implement is never silently accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotFilter {
    /// Off: every request is recorded as it comes (the browser test suites run headless Chromium).
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub tiers: Tiers,
    /// Enterprise Bot Management: a score from 1 to this minus one is a bot (Cloudflare: 1–29 is
    /// "likely automated"). 0, "not computed", never is.
    #[serde(default = "default_min_human_score")]
    pub min_human_score: u32,
    /// `"all"`, or the verified-bot categories to exclude (the others are recorded as people).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value, example = json!("all")))]
    pub exclude_verified_categories: Categories,
    /// Text that, found in a user agent (case-insensitively), keeps it from the user-agent tier:
    /// the operator's own monitoring or in-house tools it wants counted.
    #[serde(default)]
    pub allow_user_agents: Vec<String>,
    /// Text that, found in a user agent (case-insensitively), makes it a bot, whatever the tiers.
    #[serde(default)]
    pub deny_user_agents: Vec<String>,
    /// A boolean context attribute (e.g. `bot`) that, `true`, makes a context a bot's on every
    /// route: the only signal on server and mobile SDK routes, whose user agents are never
    /// classified ([`context_flag`]). Unset: not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_attribute: Option<String>,
}

/// Which signals are used; each can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tiers {
    #[serde(default = "yes")]
    pub cloudflare: bool,
    #[serde(default = "yes")]
    pub web_bot_auth: bool,
    #[serde(default = "yes")]
    pub user_agent: bool,
    /// The snippet's own signal: the page runs under automation (`navigator.webdriver`), sent as
    /// `wd=1` on its evalx and events requests.
    #[serde(default = "yes")]
    pub automation: bool,
}

/// `"all"` or a list of categories.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Categories {
    #[default]
    All,
    Only(Vec<String>),
}

impl Serialize for Categories {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Categories::All => s.serialize_str("all"),
            Categories::Only(list) => list.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Categories {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "all" => Ok(Categories::All),
            serde_json::Value::Array(items) if items.iter().all(|i| i.is_string()) => Ok(Categories::Only(
                items.into_iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            )),
            _ => Err(serde::de::Error::custom(
                "`excludeVerifiedCategories` must be \"all\" or a list of Cloudflare's categories",
            )),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_min_human_score() -> u32 {
    30
}

impl Default for Tiers {
    fn default() -> Self {
        Tiers { cloudflare: true, web_bot_auth: true, user_agent: true, automation: true }
    }
}

impl Default for BotFilter {
    fn default() -> Self {
        BotFilter {
            enabled: true,
            tiers: Tiers::default(),
            min_human_score: default_min_human_score(),
            exclude_verified_categories: Categories::All,
            allow_user_agents: Vec::new(),
            deny_user_agents: Vec::new(),
            context_attribute: None,
        }
    }
}

/// Most entries in an allow or deny list, and the longest entry (they are searched per request).
const MAX_LIST_ENTRIES: usize = 100;
const MAX_ENTRY_BYTES: usize = 200;

impl BotFilter {
    /// The filter as written by the REST API (its JSON body): read, checked, lists lower-cased.
    pub fn parse(body: serde_json::Value) -> Result<BotFilter, Error> {
        let mut filter: BotFilter = serde_json::from_value(body)
            .map_err(|e| Error::invalid(format!("invalid bot filter: {e}")))?;
        filter.check()?;
        for list in [&mut filter.allow_user_agents, &mut filter.deny_user_agents] {
            for entry in list.iter_mut() {
                *entry = entry.to_lowercase();
            }
        }
        Ok(filter)
    }

    fn check(&self) -> Result<(), Error> {
        if !(1..=100).contains(&self.min_human_score) {
            return Err(Error::invalid("`minHumanScore` must be from 1 to 100 (Cloudflare's scores run 1–99)"));
        }
        if let Categories::Only(list) = &self.exclude_verified_categories {
            if let Some(unknown) = list.iter().find(|c| !VERIFIED_CATEGORIES.contains(&c.as_str())) {
                return Err(Error::invalid(format!(
                    "`excludeVerifiedCategories`: `{unknown}` is not one of Cloudflare's categories ({})",
                    VERIFIED_CATEGORIES.join(", ")
                )));
            }
        }
        if let Some(name) = &self.context_attribute {
            context_flag::check_attribute(name)?;
        }
        for (name, list) in [("allowUserAgents", &self.allow_user_agents), ("denyUserAgents", &self.deny_user_agents)] {
            if list.len() > MAX_LIST_ENTRIES {
                return Err(Error::invalid(format!("`{name}` has more than {MAX_LIST_ENTRIES} entries")));
            }
            if list.iter().any(|e| e.trim().is_empty() || e.len() > MAX_ENTRY_BYTES) {
                return Err(Error::invalid(format!(
                    "`{name}`: every entry must be non-blank text of at most {MAX_ENTRY_BYTES} bytes"
                )));
            }
        }
        Ok(())
    }

    fn excludes_category(&self, category: &str) -> bool {
        match &self.exclude_verified_categories {
            Categories::All => true,
            Categories::Only(list) => list.iter().any(|c| c.eq_ignore_ascii_case(category)),
        }
    }
}

/// Cloudflare's Enterprise Bot Management verdict (`request.cf.botManagement`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BotManagement {
    /// 1–99; 0 when not computed.
    pub score: u32,
    pub verified_bot: bool,
    pub corporate_proxy: bool,
}

/// What a request says about its sender, before any variation is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals<'a> {
    /// `None`: no `User-Agent` header.
    pub user_agent: Option<&'a str>,
    pub signature_agent: Option<&'a str>,
    pub signature_input: Option<&'a str>,
    pub verified_bot_category: Option<&'a str>,
    pub bot_management: Option<BotManagement>,
    /// The snippet said the page runs under automation (`navigator.webdriver`).
    pub automation: bool,
}

/// Why a request was classified as a bot. Its [`fmt::Display`] is the reason code reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotReason {
    /// `cf_verified:<category>`
    VerifiedCategory(String),
    /// `cf_verified`
    VerifiedBot,
    /// `cf_score`
    Score,
    /// `ua_deny`
    DeniedUserAgent,
    /// `web_bot_auth`
    WebBotAuth,
    /// `ua_empty`
    EmptyUserAgent,
    /// `ua`
    UserAgent,
    /// `webdriver`
    Automation,
    /// `context:<attribute>`: the context says so ([`BotFilter::context_attribute`]).
    ContextAttribute(String),
}

impl fmt::Display for BotReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BotReason::VerifiedCategory(c) => write!(f, "cf_verified:{c}"),
            BotReason::VerifiedBot => f.write_str("cf_verified"),
            BotReason::Score => f.write_str("cf_score"),
            BotReason::DeniedUserAgent => f.write_str("ua_deny"),
            BotReason::WebBotAuth => f.write_str("web_bot_auth"),
            BotReason::EmptyUserAgent => f.write_str("ua_empty"),
            BotReason::UserAgent => f.write_str("ua"),
            BotReason::Automation => f.write_str("webdriver"),
            BotReason::ContextAttribute(a) => write!(f, "context:{a}"),
        }
    }
}

/// Is this request a bot's, and why? `None`: a person, or the filter is off.
pub fn classify(filter: &BotFilter, s: &Signals) -> Option<BotReason> {
    if !filter.enabled {
        return None;
    }
    let ua = s.user_agent.unwrap_or("").trim();
    // Lower-cased only when an operator's list needs it (most filters have none).
    let lower = std::cell::OnceCell::new();
    let listed = |list: &[String]| {
        !list.is_empty() && {
            let lower = lower.get_or_init(|| ua.to_lowercase());
            list.iter().any(|e| lower.contains(e.as_str()))
        }
    };
    if listed(&filter.deny_user_agents) {
        return Some(BotReason::DeniedUserAgent);
    }
    if filter.tiers.cloudflare {
        match cloudflare(filter, s) {
            Cloudflare::Bot(reason) => return Some(reason),
            // A verified bot of a category the operator keeps is kept, whatever else says bot.
            Cloudflare::KeptVerified => return None,
            Cloudflare::NoVerdict => {}
        }
    }
    if filter.tiers.web_bot_auth && web_bot_auth(s) {
        return Some(BotReason::WebBotAuth);
    }
    if filter.tiers.user_agent && !listed(&filter.allow_user_agents) {
        if ua.is_empty() {
            return Some(BotReason::EmptyUserAgent);
        }
        if user_agent::is_crawler(ua) {
            return Some(BotReason::UserAgent);
        }
    }
    // Last: a browser whose user agent says "person" but whose page says "automated".
    if filter.tiers.automation && s.automation {
        return Some(BotReason::Automation);
    }
    None
}

impl BotFilter {
    /// The attribute to read contexts by, when the filter is on and names one.
    pub fn context_attribute(&self) -> Option<&str> {
        self.context_attribute.as_deref().filter(|_| self.enabled)
    }

    /// Does this context (as JSON) say it is a bot's ([`BotFilter::context_attribute`])?
    pub fn context_reason(&self, context: &serde_json::Value) -> Option<BotReason> {
        let attribute = self.context_attribute()?;
        context_flag::context_says_bot(context, attribute).then(|| BotReason::ContextAttribute(attribute.to_owned()))
    }
}

/// Cloudflare's say on a request.
enum Cloudflare {
    Bot(BotReason),
    KeptVerified,
    NoVerdict,
}

fn cloudflare(filter: &BotFilter, s: &Signals) -> Cloudflare {
    if let Some(category) = s.verified_bot_category.map(str::trim).filter(|c| !c.is_empty()) {
        return if filter.excludes_category(category) {
            Cloudflare::Bot(BotReason::VerifiedCategory(category.to_owned()))
        } else {
            Cloudflare::KeptVerified
        };
    }
    let Some(bm) = s.bot_management else { return Cloudflare::NoVerdict };
    if bm.verified_bot {
        // Without a category, only "exclude all categories" says what to do with it.
        return match filter.exclude_verified_categories {
            Categories::All => Cloudflare::Bot(BotReason::VerifiedBot),
            Categories::Only(_) => Cloudflare::NoVerdict,
        };
    }
    let automated = bm.score >= 1 && bm.score < filter.min_human_score;
    if automated && !bm.corporate_proxy {
        Cloudflare::Bot(BotReason::Score)
    } else {
        Cloudflare::NoVerdict
    }
}

fn web_bot_auth(s: &Signals) -> bool {
    s.signature_agent.is_some_and(|a| !a.trim().is_empty())
        || s.signature_input.is_some_and(|i| i.to_ascii_lowercase().contains("tag=\"web-bot-auth\""))
}

/// What the events route answers for a bot's payload: why, and how many valid events it dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Excluded {
    /// The reason code (`ua`, `cf_verified:<category>`, …).
    pub reason: String,
    pub events: u64,
}

/// What one isolate's bot filter did (in `GET /api/v2/ops/ingest`).
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotCounts {
    /// Browser requests classified (with the filter on).
    pub classified_requests: u64,
    /// Those found to be a bot's.
    pub bot_requests: u64,
    /// Bot requests by reason code.
    pub by_reason: std::collections::BTreeMap<String, u64>,
    /// Flag evaluations served to bots with nothing to record (evalx, stream puts).
    pub untracked_evaluations: u64,
    /// Of those, evaluations served their experiment's control (`botFilter.serveControl`).
    pub served_control: u64,
    /// Valid events of bot requests, dropped before attribution.
    pub dropped_events: u64,
}

impl BotCounts {
    /// Count one classified request.
    pub fn classified(&mut self, reason: Option<&BotReason>) {
        self.classified_requests += 1;
        if let Some(reason) = reason {
            self.bot_requests += 1;
            *self.by_reason.entry(reason.to_string()).or_default() += 1;
        }
    }
}

/// A bot's evaluation: evaluated as for anyone, but nothing asks the SDK to record it: no
/// `trackEvents` (so LaunchDarkly's SDKs send no feature event, and the snippet no exposure), no
/// `trackReason`, and no `inExperiment` in a reason (which is dropped unless asked for).
pub fn untracked(flag: &mut serde_json::Value, with_reasons: bool) {
    let Some(flag) = flag.as_object_mut() else { return };
    flag.insert("trackEvents".into(), false.into());
    flag.remove("trackReason");
    flag.remove("debugEventsUntilDate");
    if !with_reasons {
        flag.remove("reason");
    } else if let Some(reason) = flag.get_mut("reason").and_then(|r| r.as_object_mut()) {
        reason.remove("inExperiment");
    }
}

/// What [`untrack_by_verdict`] did to a request's evaluations.
#[derive(Debug, Default, PartialEq)]
pub struct Untracked {
    /// Evaluations untracked (a bot's in their experiment, or for the environment).
    pub evaluations: usize,
    /// Of those, served their experiment's control (`serveControl`).
    pub served_control: usize,
    /// By reason code, the exposures the SDK would have sent for them (when a context is given):
    /// what the iterations exclude.
    pub exposures: std::collections::BTreeMap<String, Vec<crate::queued::QueuedEvent>>,
}

/// Each evaluation of a request under its verdict: the verdict of the experiment it is in
/// (its own where the experiment overrides the filter, else the environment's), and, where that
/// says bot, its would-be exposure noted under the reason (with `units`), the experiment's
/// control served if it opted in, and nothing asked to be recorded. A person's evaluations are
/// left as they are.
pub fn untrack_by_verdict(
    flags: &mut serde_json::Map<String, serde_json::Value>,
    (verdict, controls): (&overrides::Verdict, &serve_control::BotControls),
    data: &impl crate::targeting::Store,
    (units, now): (Option<&[(String, String)]>, i64),
    with_reasons: bool,
) -> Untracked {
    let mut done = Untracked::default();
    for (key, evaluation) in flags.iter_mut() {
        let experiment = controls.matching(key, evaluation).map(|c| c.experiment.as_str());
        let Some(reason) = verdict.reason_for(experiment) else { continue };
        let exposure = units.and_then(|u| excluded::would_be_exposure(key, evaluation, u, now));
        if let Some(exposure) = exposure {
            done.exposures.entry(reason.to_string()).or_default().push(exposure);
        }
        done.served_control += usize::from(controls.serve_one(key, evaluation, data));
        untracked(evaluation, with_reasons);
        done.evaluations += 1;
    }
    done
}

#[cfg(test)]
mod tests;
