use super::*;
use serde_json::json;

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// `BotFilter::parse` of a JSON text.
fn parse(body: &[u8]) -> Result<BotFilter, Error> {
    BotFilter::parse(serde_json::from_slice(body).unwrap())
}

fn ua(user_agent: &str) -> Option<String> {
    let s = Signals { user_agent: Some(user_agent), ..Signals::default() };
    classify(&BotFilter::default(), &s).map(|r| r.to_string())
}

/// Real user agents with the verdict each must get on a browser route, default filter.
#[test]
fn a_table_of_real_user_agents_gets_the_expected_verdicts() {
    let bots = [
        ("Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ("Googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.139 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ("Bingbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"),
        ("Applebot", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)"),
        ("GPTBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"),
        ("ChatGPT-User", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot"),
        ("ClaudeBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"),
        ("PerplexityBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)"),
        ("AhrefsSiteAudit", "Mozilla/5.0 (compatible; AhrefsSiteAudit/6.1; +http://ahrefs.com/robot/site-audit)"),
        ("facebookexternalhit", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
        ("Lighthouse", "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"),
        ("UptimeRobot", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"),
        ("HeadlessChrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/143.0.0.0 Safari/537.36"),
        ("curl", "curl/8.5.0"),
        ("python-requests", "python-requests/2.32.3"),
        ("Go", "Go-http-client/2.0"),
        ("node fetch", "node"),
        ("wget", "Wget/1.21.4"),
    ];
    for (name, agent) in bots {
        assert_eq!(ua(agent).as_deref(), Some("ua"), "{name} is a bot: {agent}");
    }
    let people = [
        ("Chrome", CHROME),
        ("Safari macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"),
        ("Safari iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"),
        ("Firefox", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
        ("Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"),
        ("Android Chrome", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"),
        ("Samsung Internet", "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"),
        ("Cubot phone", "Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"),
        ("Facebook in-app", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/490.0.0.36.108;FBBV/657375366;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;FBSV/18.1;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/5]"),
        ("Instagram in-app", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 356.0.0.41.101 (iPhone15,3; iOS 18_1; en_US; en; scale=3.00; 1290x2796; 658421224)"),
        ("Pinterest in-app", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]"),
        ("Google app", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/343.0.695551749 Mobile/15E148 Safari/604.1"),
    ];
    for (name, agent) in people {
        assert_eq!(ua(agent), None, "{name} is a person: {agent}");
    }
}

/// Why the user-agent tier is never run on server and mobile SDK routes: `isbot` calls every
/// LaunchDarkly SDK a bot (they identify as HTTP clients).
#[test]
fn launchdarkly_sdk_user_agents_look_like_bots_to_the_list() {
    for agent in ["NodeJSClient/9.7.1", "PythonClient/9.18.2", "GoClient/7.0.0", "JavaClient/7.4.0", "okhttp/4.12.0"] {
        assert!(user_agent::is_crawler(agent), "{agent}");
    }
}

#[test]
fn an_empty_or_missing_user_agent_is_a_bot() {
    assert_eq!(ua("").as_deref(), Some("ua_empty"));
    assert_eq!(ua("   ").as_deref(), Some("ua_empty"));
    let none = Signals::default();
    assert_eq!(classify(&BotFilter::default(), &none), Some(BotReason::EmptyUserAgent));
}

#[test]
fn cloudflare_verdicts_and_what_they_never_mean() {
    let f = BotFilter::default();
    let with = |category: Option<&'static str>, bm: Option<BotManagement>| Signals {
        user_agent: Some(CHROME),
        verified_bot_category: category,
        bot_management: bm,
        ..Signals::default()
    };
    let reason = |s: Signals| classify(&f, &s).map(|r| r.to_string());
    assert_eq!(reason(with(Some("Search Engine Crawler"), None)).as_deref(), Some("cf_verified:Search Engine Crawler"));
    assert_eq!(reason(with(Some(""), None)), None, "an empty category is none");
    let bm = |score, verified_bot, corporate_proxy| Some(BotManagement { score, verified_bot, corporate_proxy });
    assert_eq!(reason(with(None, bm(1, false, false))).as_deref(), Some("cf_score"));
    assert_eq!(reason(with(None, bm(29, false, false))).as_deref(), Some("cf_score"));
    assert_eq!(reason(with(None, bm(30, false, false))), None, "30 is likely human");
    assert_eq!(reason(with(None, bm(0, false, false))), None, "0 is not computed, never a bot");
    assert_eq!(reason(with(None, bm(5, false, true))), None, "a corporate proxy is not excluded by score");
    assert_eq!(reason(with(None, bm(99, true, false))).as_deref(), Some("cf_verified"));
    // Miniflare's placeholder (score 99, not verified) is a person.
    assert_eq!(reason(with(None, bm(99, false, false))), None);
}

#[test]
fn a_verified_bot_of_a_kept_category_is_kept_whatever_its_user_agent() {
    let f = parse(br#"{"excludeVerifiedCategories": ["AI Crawler"]}"#).unwrap();
    let uptime = Signals {
        user_agent: Some("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"),
        verified_bot_category: Some("Monitoring & Analytics"),
        ..Signals::default()
    };
    assert_eq!(classify(&f, &uptime), None);
    let gpt = Signals { verified_bot_category: Some("AI Crawler"), ..uptime };
    assert_eq!(classify(&f, &gpt).map(|r| r.to_string()).as_deref(), Some("cf_verified:AI Crawler"));
}

#[test]
fn web_bot_auth_headers_mark_a_signed_agent() {
    let f = BotFilter::default();
    let agent = Signals { user_agent: Some(CHROME), signature_agent: Some("\"https://chatgpt.com\""), ..Signals::default() };
    assert_eq!(classify(&f, &agent), Some(BotReason::WebBotAuth));
    let input = Signals {
        user_agent: Some(CHROME),
        signature_input: Some(r#"sig2=("@authority" "signature-agent");created=1735689600;keyid="x";tag="web-bot-auth""#),
        ..Signals::default()
    };
    assert_eq!(classify(&f, &input), Some(BotReason::WebBotAuth));
    let other = Signals { signature_input: Some(r#"sig1=();tag="other""#), ..input };
    assert_eq!(classify(&f, &other), None);
}

#[test]
fn tiers_switch_off_and_lists_allow_and_deny() {
    let off = parse(br#"{"enabled": false}"#).unwrap();
    assert_eq!(classify(&off, &Signals::default()), None);
    let no_ua = parse(br#"{"tiers": {"userAgent": false}}"#).unwrap();
    assert_eq!(classify(&no_ua, &Signals { user_agent: Some("curl/8.5.0"), ..Signals::default() }), None);
    let lists = parse(br#"{"allowUserAgents": ["MyMonitor"], "denyUserAgents": ["AcmeProbe"]}"#).unwrap();
    let mine = Signals { user_agent: Some("MyMonitor-bot/1.0"), ..Signals::default() };
    assert_eq!(classify(&lists, &mine), None, "allowed, case-insensitively");
    let probe = Signals { user_agent: Some(&format!("{CHROME} acmeprobe/2")), ..Signals::default() };
    assert_eq!(classify(&lists, &probe), Some(BotReason::DeniedUserAgent));
    let cf = parse(br#"{"tiers": {"cloudflare": false}}"#).unwrap();
    let verified = Signals { user_agent: Some(CHROME), verified_bot_category: Some("Other"), ..Signals::default() };
    assert_eq!(classify(&cf, &verified), None);
}

#[test]
fn a_bad_filter_is_refused_naming_the_problem() {
    let err = |body: &str| match parse(body.as_bytes()) {
        Err(Error::BadRequest(m)) => m,
        other => panic!("{body}: {other:?}"),
    };
    assert!(err(r#"{"tiers": {"snippet": true}}"#).contains("snippet"));
    assert!(err(r#"{"rate": {}}"#).contains("rate"));
    assert!(err(r#"{"minHumanScore": 0}"#).contains("minHumanScore"));
    assert!(err(r#"{"excludeVerifiedCategories": ["Robots"]}"#).contains("Robots"));
    assert!(err(r#"{"excludeVerifiedCategories": "some"}"#).contains("excludeVerifiedCategories"));
    assert!(err(r#"{"denyUserAgents": [" "]}"#).contains("denyUserAgents"));
    assert!(err(r#"{"contextAttribute": "/device/bot"}"#).contains("contextAttribute"));
    assert!(err(r#"{"contextAttribute": "key"}"#).contains("contextAttribute"));
    let named = parse(br#"{"contextAttribute": "bot"}"#).unwrap();
    let flagged = json!({"kind": "user", "key": "a", "bot": true});
    assert_eq!(named.context_reason(&flagged).map(|r| r.to_string()).as_deref(), Some("context:bot"));
    let off = BotFilter { enabled: false, ..named };
    assert_eq!(off.context_reason(&flagged), None, "a filter that is off excludes nothing");
    let defaults = parse(b"{}").unwrap();
    assert_eq!(defaults, BotFilter::default());
    assert_eq!(defaults.context_reason(&flagged), None, "unset unless named");
    let round = serde_json::to_vec(&defaults).unwrap();
    assert_eq!(parse(&round).unwrap(), defaults);
    assert_eq!(serde_json::to_value(&defaults).unwrap()["excludeVerifiedCategories"], json!("all"));
}

#[test]
fn a_bots_evaluations_ask_for_no_event() {
    let mut flags = json!({
        "exp": {"value": true, "variation": 1, "version": 3, "trackEvents": true, "trackReason": true,
                "reason": {"kind": "FALLTHROUGH", "inExperiment": true}},
        "plain": {"value": 1, "variation": 0, "version": 1, "trackEvents": false, "debugEventsUntilDate": 9}
    });
    let mut without = flags.as_object().unwrap().clone();
    without.values_mut().for_each(|f| untracked(f, false));
    assert_eq!(without["exp"], json!({"value": true, "variation": 1, "version": 3, "trackEvents": false}));
    assert_eq!(without["plain"], json!({"value": 1, "variation": 0, "version": 1, "trackEvents": false}));
    let with = flags.as_object_mut().unwrap();
    with.values_mut().for_each(|f| untracked(f, true));
    assert_eq!(with["exp"]["reason"], json!({"kind": "FALLTHROUGH"}));
}

// The snippet's automation signal: last, so a crawler keeps its own reason; its tier switches it
// off (an operator's own browser tests).
#[test]
fn automation_is_the_snippets_signal() {
    let filter = BotFilter::default();
    let driven = Signals { user_agent: Some(CHROME), automation: true, ..Signals::default() };
    assert_eq!(classify(&filter, &driven).map(|r| r.to_string()).as_deref(), Some("webdriver"));
    let crawler = Signals { user_agent: Some("curl/8.5.0"), automation: true, ..Signals::default() };
    assert_eq!(classify(&filter, &crawler).map(|r| r.to_string()).as_deref(), Some("ua"));
    let mut off = BotFilter::default();
    off.tiers.automation = false;
    assert_eq!(classify(&off, &driven), None);
    assert_eq!(classify(&filter, &Signals { user_agent: Some(CHROME), ..Signals::default() }), None);
}
