//! Every route the Worker serves, one entry each: what `openapi.rs` turns into the paths of the
//! document. Path parameters come from the `{name}` segments; the errors every route of a kind
//! answers (401 for a missing credential, 403 for a reader token on a write, 400 for a bad body)
//! are added from `auth` and `body`, so an entry lists only what is its own.

use Auth::{ClientSideId, Public, Reader, SdkKey, Writer};
use ParamType::{Integer, OneOf, Text};

/// The credential a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// None (diagnostics, this document).
    Public,
    /// The environment's SDK key (or mobile key) in `Authorization`.
    SdkKey,
    /// The public client-side ID in the path (browser routes, with CORS).
    ClientSideId,
    /// An API access token, reader or writer.
    Reader,
    /// A writer access token.
    Writer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
    Put,
    /// HTTP REPORT (LaunchDarkly's client-side evaluation with the context in the body). OpenAPI
    /// 3.1 has no field for it: the operation is written under the path's `x-report` extension.
    Report,
}

/// A request or response body: a component schema, a list of them, or any JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Schema(&'static str),
    ListOf(&'static str),
    /// A map from keys to the named schema.
    MapOf(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Text,
    Integer,
    Boolean,
    OneOf(&'static [&'static str]),
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamType,
    pub description: &'static str,
}

/// A response: status, what it means, its body.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub description: &'static str,
    pub body: Option<Body>,
}

#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub query: &'static [Param],
    pub body: Option<Body>,
    /// Also takes LaunchDarkly's semantic patch (`application/json;
    /// domain-model=launchdarkly.semanticpatch`), of this schema.
    pub semantic: Option<&'static str>,
    pub ok: Reply,
    /// Other statuses of this route beyond those its auth and body imply (errors, and 304 for a
    /// route that answers `If-None-Match`).
    pub statuses: &'static [u16],
}

impl Endpoint {
    /// A route answering `ok`; no query parameters, request body or statuses of its own until
    /// [`Endpoint::query`], [`Endpoint::body`] and [`Endpoint::statuses`] say so.
    const fn new(
        method: Method,
        path: &'static str,
        operation_id: &'static str,
        auth: Auth,
        summary: &'static str,
        ok: Reply,
    ) -> Self {
        Endpoint {
            method,
            path,
            operation_id,
            summary,
            auth,
            query: &[],
            body: None,
            semantic: None,
            ok,
            statuses: &[],
        }
    }

    const fn query(mut self, query: &'static [Param]) -> Self {
        self.query = query;
        self
    }

    const fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    const fn semantic(mut self, schema: &'static str) -> Self {
        self.semantic = Some(schema);
        self
    }

    const fn statuses(mut self, statuses: &'static [u16]) -> Self {
        self.statuses = statuses;
        self
    }
}

// One constructor per method, so that each table row reads as the route it is.
const fn get(path: &'static str, id: &'static str, auth: Auth, summary: &'static str, ok: Reply) -> Endpoint {
    Endpoint::new(Method::Get, path, id, auth, summary, ok)
}
const fn post(path: &'static str, id: &'static str, auth: Auth, summary: &'static str, ok: Reply) -> Endpoint {
    Endpoint::new(Method::Post, path, id, auth, summary, ok)
}
const fn patch(path: &'static str, id: &'static str, auth: Auth, summary: &'static str, ok: Reply) -> Endpoint {
    Endpoint::new(Method::Patch, path, id, auth, summary, ok)
}
const fn delete(path: &'static str, id: &'static str, auth: Auth, summary: &'static str, ok: Reply) -> Endpoint {
    Endpoint::new(Method::Delete, path, id, auth, summary, ok)
}
const fn put(path: &'static str, id: &'static str, auth: Auth, summary: &'static str, ok: Reply) -> Endpoint {
    Endpoint::new(Method::Put, path, id, auth, summary, ok)
}
const fn report(path: &'static str, id: &'static str, auth: Auth, summary: &'static str, ok: Reply) -> Endpoint {
    Endpoint::new(Method::Report, path, id, auth, summary, ok)
}

const fn param(name: &'static str, kind: ParamType, description: &'static str) -> Param {
    Param {
        name,
        kind,
        description,
    }
}

const fn reply(status: u16, description: &'static str, body: Option<Body>) -> Reply {
    Reply {
        status,
        description,
        body,
    }
}

const fn schema(name: &'static str) -> Option<Body> {
    Some(Body::Schema(name))
}
const fn list_of(name: &'static str) -> Option<Body> {
    Some(Body::ListOf(name))
}
const fn map_of(name: &'static str) -> Option<Body> {
    Some(Body::MapOf(name))
}

const EVENTS: Body = Body::ListOf("Event");
const ACCEPTED: Reply = reply(
    202,
    "Processed (or a duplicate payload ID, with `duplicate: true`)",
    schema("EventsAccepted"),
);
const PATCH: Body = Body::ListOf("PatchOperation");
const DELETED: Reply = reply(204, "Deleted", None);
const WITH_REASONS: Param = param(
    "withReasons",
    ParamType::Boolean,
    "`true` to include each evaluation's reason",
);
/// A path under an environment.
macro_rules! env_path {
    ($rest:literal) => {
        concat!("/api/v2/projects/{projectKey}/environments/{environmentKey}", $rest)
    };
}

/// Events and browser SDK routes.
#[rustfmt::skip]
const INGEST: &[Endpoint] = &[
    post("/bulk", "postServerEvents", SdkKey, "Analytics events from server SDKs",
        ACCEPTED).body(EVENTS).statuses(&[413, 415]),
    post("/mobile/events/bulk", "postMobileEvents", SdkKey, "Analytics events from mobile SDKs (also `/mobile` and `/mobile/events`)",
        ACCEPTED).body(EVENTS).statuses(&[413, 415]),
    post("/events/bulk/{clientSideId}", "postBrowserEvents", ClientSideId, "Analytics events from browser SDKs and the snippet (CORS)",
        ACCEPTED).query(&[
            param("sdk", Text, "`Name/version` of the sender, for clients that cannot set headers"),
        ]).body(EVENTS).statuses(&[413, 415]),
    post("/v2/event-data-import/{projectKey}/{environmentKey}", "postImportedEvents", Writer, "Metric import: custom events from a data pipeline",
        ACCEPTED).body(EVENTS).statuses(&[404, 413, 415]),
    post("/diagnostic", "postDiagnostic", Public, "SDK diagnostics (accepted and ignored; also `/mobile/events/diagnostic`)",
        reply(202, "Accepted", None)),
    post("/events/diagnostic/{clientSideId}", "postBrowserDiagnostic", Public, "Browser SDK diagnostics (accepted and ignored)",
        reply(202, "Accepted", None)),
    get("/sdk/goals/{clientSideId}", "getGoals", ClientSideId, "Click and page-view metrics as browser goals (ETag: a 304 answers If-None-Match)",
        reply(200, "Goals", list_of("Goal"))).statuses(&[304]),
    get("/sdk/evalx/{clientSideId}/contexts/{context}", "getFlagValues", ClientSideId, "Every flag available to the client-side ID, evaluated for a context",
        reply(200, "Flag key → value", map_of("FlagValue"))).query(&[WITH_REASONS]).statuses(&[400]),
    report("/sdk/evalx/{clientSideId}/context", "reportFlagValues", ClientSideId, "Every flag available to the client-side ID, evaluated for the context in the body",
        reply(200, "Flag key → value", map_of("FlagValue"))).query(&[WITH_REASONS]).body(Body::Schema("Context")),
    get("/eval/{clientSideId}/{context}", "streamFlagValues", ClientSideId, "Server-sent events for browser SDKs (`text/event-stream`): `put` with what evalx answers for the context, then `patch` (the flag's evaluation with its `key`) or `delete` (`{key, version}`) whenever an evaluation changes, a `put` when one changes at the same flag version; a `:` heartbeat every 30 s",
        reply(200, "The event stream", None)).query(&[WITH_REASONS]).statuses(&[400]),
    report("/eval/{clientSideId}", "reportStreamFlagValues", ClientSideId, "The browser event stream for the context in the body",
        reply(200, "The event stream", None)).query(&[WITH_REASONS]).body(Body::Schema("Context")),
    get("/ping/{clientSideId}", "streamPing", ClientSideId, "Server-sent events for browser SDKs: a `ping` on connecting and whenever the environment's flags change (the SDK then fetches evalx)",
        reply(200, "The event stream", None)),
    get("/sdk/latest-all", "getServerSdkData", SdkKey, "The environment's flags and segments in LaunchDarkly's server-side SDK data model, `{\"flags\": {…}, \"segments\": {…}}` (server SDKs' polling; ETag: a 304 answers If-None-Match; gzip when asked)",
        reply(200, "Flags and segments by key", None)).statuses(&[304, 400, 503]),
    get("/sdk/latest-flags/{flagKey}", "getServerSdkFlag", SdkKey, "One flag in the server-side SDK data model",
        reply(200, "The flag", None)).statuses(&[404, 503]),
    get("/sdk/latest-segments/{segmentKey}", "getServerSdkSegment", SdkKey, "One segment in the server-side SDK data model",
        reply(200, "The segment", None)).statuses(&[404, 503]),
    get("/all", "streamServerSdkData", SdkKey, "Server-sent events for server SDKs (`text/event-stream`): `put` with every flag and segment, then `patch` and `delete` on every change, a `:` heartbeat every 30 s",
        reply(200, "The event stream", None)).statuses(&[400, 503]),
    get("/sdk/poll", "getFdv2Poll", Public, "LaunchDarkly's newer delivery protocol, not served: 503 with `x-ld-fd-fallback: true`, on which SDKs use `/sdk/latest-all` and `/all` (also `/sdk/stream`)",
        reply(503, "Use the routes above", None)),
];

/// Metrics, flags and tokens.
#[rustfmt::skip]
const RESOURCES: &[Endpoint] = &[
    get("/api/v2/metrics/{projectKey}", "getMetrics", Reader, "List metrics",
        reply(200, "A page of metrics", schema("MetricCollectionRep"))).query(&[
            param("limit", Integer, "1 to 50, default 20"),
            param("offset", Integer, "Default 0"),
            param("sort", Text, "`name` or `createdAt`, `-` first for descending (default `-createdAt`)"),
            param("filter", Text, "Comma-separated `field:value` terms: query, tags (`a+b`: all), eventKind, isNumeric, eventKey, maintainerIds"),
            param("expand", Text, "Only `experimentCount` (LaunchDarkly's one list expansion), which is always included; anything else is refused"),
        ]).statuses(&[400, 404]),
    post("/api/v2/metrics/{projectKey}", "postMetric", Writer, "Create a metric",
        reply(201, "Created", schema("MetricRep"))).body(Body::Schema("MetricPost")).statuses(&[404, 409]),
    get("/api/v2/metrics/{projectKey}/{metricKey}", "getMetric", Reader, "Get a metric",
        reply(200, "The metric", schema("MetricRep"))).statuses(&[404]),
    patch("/api/v2/metrics/{projectKey}/{metricKey}", "patchMetric", Writer, "Update a metric with a JSON Patch; a failed `test` of `/_version` is a 409, and a running experiment locks its kind and event key",
        reply(200, "Updated", schema("MetricRep"))).body(PATCH).statuses(&[404, 409]),
    delete("/api/v2/metrics/{projectKey}/{metricKey}", "deleteMetric", Writer, "Delete a metric (409 while a running experiment uses it)",
        DELETED).statuses(&[404, 409]),
    get("/api/v2/flags/{projectKey}", "getFlags", Reader, "List flags",
        reply(200, "The flags", schema("FlagCollection"))).query(&[
            param("filter", Text, "`guardedRollout:<any|monitoring|regressed|rolledBack|completed|archived>,filterEnv:<environment>`: the flags whose latest guarded rollout there has that status"),
        ]).statuses(&[400, 404]),
    post("/api/v2/flags/{projectKey}", "postFlag", Writer, "Create a flag",
        reply(201, "Created", schema("Flag"))).body(Body::Schema("FlagPost")).statuses(&[404, 409]),
    get("/api/v2/flags/{projectKey}/{flagKey}", "getFlag", Reader, "Get a flag",
        reply(200, "The flag", schema("Flag"))).statuses(&[404]),
    patch("/api/v2/flags/{projectKey}/{flagKey}", "patchFlag", Writer, "Update a flag with a JSON Patch (a `test` of `/_version` is a compare-and-set) or a semantic patch",
        reply(200, "Updated", schema("Flag"))).body(PATCH).semantic("FlagSemanticPatch").statuses(&[404, 409]),
    delete("/api/v2/flags/{projectKey}/{flagKey}", "deleteFlag", Writer, "Delete a flag (409 while a running experiment uses it)",
        DELETED).statuses(&[404, 409]),
    get("/api/v2/segments/{projectKey}/{environmentKey}", "getSegments", Reader, "List an environment's segments",
        reply(200, "The segments", schema("SegmentCollection"))).statuses(&[404]),
    post("/api/v2/segments/{projectKey}/{environmentKey}", "postSegment", Writer, "Create a segment",
        reply(201, "Created", schema("Segment"))).body(Body::Schema("SegmentPost")).statuses(&[404, 409]),
    get("/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}", "getSegment", Reader, "Get a segment",
        reply(200, "The segment", schema("Segment"))).statuses(&[404]),
    patch("/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}", "patchSegment", Writer, "Update a segment with a JSON Patch or a semantic patch (every change bumps `version`)",
        reply(200, "Updated", schema("Segment"))).body(PATCH).semantic("SegmentSemanticPatch").statuses(&[404, 409]),
    delete("/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}", "deleteSegment", Writer, "Delete a segment (409 while a flag or another segment names it)",
        DELETED).statuses(&[404, 409]),
    get("/api/v2/tokens", "getTokens", Writer, "List access tokens",
        reply(200, "The tokens (secrets obfuscated)", schema("TokenCollection"))),
    post("/api/v2/tokens", "postToken", Writer, "Create an access token; its secret is shown once",
        reply(201, "Created", schema("Token"))).body(Body::Schema("TokenPost")),
    delete("/api/v2/tokens/{id}", "deleteToken", Writer, "Delete an access token",
        DELETED).statuses(&[404]),
    get("/api/v2/webhooks", "getWebhooks", Writer, "List webhooks (guarded-rollout transitions are POSTed to them, signed `X-LD-Signature`)",
        reply(200, "The webhooks", schema("WebhookCollection"))),
    post("/api/v2/webhooks", "postWebhook", Writer, "Register a webhook; its secret is shown once",
        reply(201, "Created", schema("Webhook"))).body(Body::Schema("WebhookPost")).statuses(&[400]),
    get("/api/v2/webhooks/{id}", "getWebhook", Writer, "Get a webhook",
        reply(200, "The webhook", schema("Webhook"))).statuses(&[404]),
    delete("/api/v2/webhooks/{id}", "deleteWebhook", Writer, "Delete a webhook",
        DELETED).statuses(&[404]),
    get(ROLLOUTS, "getMeasuredRollouts", Reader, "A flag's guarded rollouts in the environment (started and stopped by the flag's semantic patch: `updateFallthroughWithMeasuredRolloutV2`, `updateRulesWithMeasuredRolloutV2`, `stopMeasuredRolloutOnFlagFallthrough`, `stopMeasuredRolloutOnFlagRule`)",
        reply(200, "The rollouts", schema("MeasuredRolloutCollection"))).statuses(&[404]),
    get(ROLLOUT, "getMeasuredRollout", Reader, "A guarded rollout with its latest check: per guardrail the estimate, bound, threshold and detectable harm; health; units per arm",
        reply(200, "The rollout", schema("MeasuredRollout"))).statuses(&[404]),
    patch(ROLLOUT, "patchMeasuredRollout", Writer, "A human's semantic patch: pause, resume, advanceStage, rollBack, dismissRegression",
        reply(200, "Updated", schema("MeasuredRollout"))).body(Body::Schema("MeasuredRolloutPatch")).statuses(&[400, 404, 409]),
    get(concat!("/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts/{rolloutId}", "/series"), "getMeasuredRolloutSeries", Reader, "The rollout's checks over time (for its charts)",
        reply(200, "One point per check", schema("MeasuredRolloutSeries"))).statuses(&[404]),
    get(concat!("/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts/{rolloutId}", "/events"), "getMeasuredRolloutEvents", Reader, "The rollout's transitions and their webhook deliveries",
        reply(200, "The timeline", schema("MeasuredRolloutEvents"))).statuses(&[404]),
];

const ROLLOUTS: &str = "/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts";
const ROLLOUT: &str = "/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/measured-rollouts/{rolloutId}";

/// Experiments, results and the read-outs of an environment.
#[rustfmt::skip]
const EXPERIMENTS: &[Endpoint] = &[
    get(env_path!("/experiments"), "getExperiments", Reader, "List the environment's experiments",
        reply(200, "The experiments", schema("ExperimentCollection"))).statuses(&[404]),
    post(env_path!("/experiments"), "postExperiment", Writer, "Create an experiment on a flag and metrics of the project",
        reply(201, "Created", schema("Experiment"))).body(Body::Schema("ExperimentPost")).statuses(&[404, 409]),
    get(env_path!("/experiments/{experimentKey}"), "getExperiment", Reader, "Get an experiment",
        reply(200, "The experiment", schema("Experiment"))).statuses(&[404]),
    patch(env_path!("/experiments/{experimentKey}"), "patchExperiment", Writer, "Semantic patch: start or stop an iteration, rename, change the analysis",
        reply(200, "Updated", schema("Experiment"))).body(Body::Schema("ExperimentPatch")).statuses(&[404, 409]),
    get(env_path!("/experiments/{experimentKey}/results"), "getExperimentResults", Reader, "Per-variation results of one metric of one iteration",
        reply(200, "The results", schema("ExperimentResults"))).query(&[
            param("metric", Text, "Metric key (default: the primary metric)"),
            param("iteration", Integer, "Iteration number (default: the latest)"),
            param("analysis", OneOf(&["bayesian", "frequentist", "sequential"]), "Override the experiment's analysis"),
            param("difference", OneOf(&["relative", "absolute"]), "Override the difference type"),
        ]).statuses(&[400, 404]),
    get(env_path!("/flags/{flagKey}/first-variation/{contextKind}/{contextKey}"), "getFirstVariation", Reader, "The first variation a context received in the 90 days before `at`",
        reply(200, "The first variation", schema("FirstVariation"))).query(&[
            param("at", Integer, "Unix milliseconds (default: now; at most 24 hours ahead)"),
        ]).statuses(&[400, 404]),
    get(env_path!("/events/recent"), "getRecentEvents", Reader, "The newest payloads accepted in the last hour, with their first events (live feed)",
        reply(200, "Feed entries, newest first", schema("FeedPage"))).query(&[
            param("limit", Integer, "1 to 100, default 20"),
        ]).statuses(&[400, 404]),
    get(env_path!("/bot-filter"), "getBotFilter", Reader, "The environment's bot filter: which signals keep bots out of its experiments (the deployment's default, `BOT_FILTER`, until one is written)",
        reply(200, "The filter in force", schema("BotFilter"))).statuses(&[400, 404]),
    put(env_path!("/bot-filter"), "putBotFilter", Writer, "Replace the environment's bot filter (unknown fields refused); every isolate uses it within 30 s plus KV propagation",
        reply(200, "The filter now in force", schema("BotFilter"))).body(Body::Schema("BotFilter")).statuses(&[400, 404]),
    get("/api/v2/projects/{projectKey}/event-keys", "getEventKeys", Reader, "Custom event keys and goal keys received in the last 30 days (to choose a metric's event key)",
        reply(200, "Most recently seen first", schema("EventKeyPage"))).query(&[
            param("search", Text, "Substring of the key, case-insensitive"),
            param("limit", Integer, "1 to 100, default 50"),
        ]).statuses(&[400, 404]),
    get("/api/v2/ops/ingest", "getIngestStats", Reader, "This isolate's ingest pipeline: messages queued and consumed, the most KV operations and subrequests of one consumer invocation, skipped records, wasm memory",
        reply(200, "Ingest figures", schema("IngestStats"))),
    get("/api/v2/openapi.json", "getOpenApi", Public, "This document",
        reply(200, "OpenAPI 3.1 document", None)),
];

/// Every route, in the document's order.
pub fn all() -> impl Iterator<Item = &'static Endpoint> {
    INGEST.iter().chain(RESOURCES).chain(EXPERIMENTS)
}
