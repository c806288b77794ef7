//! The Worker's roles, from the build's feature (Cargo.toml `[features]`; README "Four Workers"):
//! which routes a build serves and which Durable Object classes it exports. Named cfgs rather
//! than feature tests at each site, so that a site says what it is for. With no feature (what
//! `cargo test` and clippy build), one Worker has every role.
//!   - `serves_sdk` (`edge`): LaunchDarkly's SDK routes and the events routes.
//!   - `serves_rest` (`api`): the REST API, the metric import and the test hooks.
//!   - `exports_projects` (`objects`): the projects' and the streams' objects.
//!   - `exports_counters` (`counters`): the objects that count (experiment counters, counter
//!     shards, history shards) and the guarded rollouts' (they read the shards), the queue
//!     consumer (it writes the shards) and the Cron Trigger (the rollouts' watchdog).
//!
//! A build without a class compiles only its client side (the calls to it).

fn main() {
    let roles = [
        ("EDGE", "serves_sdk"),
        ("API", "serves_rest"),
        ("OBJECTS", "exports_projects"),
        ("COUNTERS", "exports_counters"),
    ];
    let on = |feature: &str| std::env::var_os(format!("CARGO_FEATURE_{feature}")).is_some();
    let chosen = roles.iter().filter(|(feature, _)| on(feature)).count();
    if chosen > 1 {
        panic!("build one role at a time: the features edge, api, objects and counters exclude each other");
    }
    for (feature, cfg) in roles {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if chosen == 0 || on(feature) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
