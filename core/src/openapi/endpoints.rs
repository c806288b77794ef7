//! Every route the Worker serves, one entry each: what `openapi.rs` turns into the paths of the
//! document. Path parameters come from the `{name}` segments; the errors every route of a kind
//! answers (401 for a missing credential, 403 for a reader token on a write, 400 for a bad body)
//! are added from `auth` and `body`, so an entry lists only what is its own.

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
    String,
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
    pub ok: Reply,
    /// Other statuses of this route beyond those its auth and body imply (errors, and 304 for a
    /// route that answers `If-None-Match`).
    pub statuses: &'static [u16],
}

const fn reply(status: u16, description: &'static str, body: Option<Body>) -> Reply {
    Reply {
        status,
        description,
        body,
    }
}

const EVENTS: Option<Body> = Some(Body::ListOf("Event"));
const ACCEPTED: Reply = reply(
    202,
    "Processed (or a duplicate payload ID, with `duplicate: true`)",
    Some(Body::Schema("EventsAccepted")),
);
const PATCH: Option<Body> = Some(Body::ListOf("PatchOperation"));
const DELETED: Reply = reply(204, "Deleted", None);
const WITH_REASONS: Param = Param {
    name: "withReasons",
    kind: ParamType::Boolean,
    description: "`true` to include each evaluation's reason",
};
/// A path under an environment.
macro_rules! env_path {
    ($rest:literal) => {
        concat!("/api/v2/projects/{projectKey}/environments/{environmentKey}", $rest)
    };
}

/// Events and browser SDK routes.
const INGEST: &[Endpoint] = &[
    Endpoint {
        method: Method::Post,
        path: "/bulk",
        operation_id: "postServerEvents",
        summary: "Analytics events from server SDKs",
        auth: Auth::SdkKey,
        query: &[],
        body: EVENTS,
        ok: ACCEPTED,
        statuses: &[413, 415],
    },
    Endpoint {
        method: Method::Post,
        path: "/mobile/events/bulk",
        operation_id: "postMobileEvents",
        summary: "Analytics events from mobile SDKs (also `/mobile` and `/mobile/events`)",
        auth: Auth::SdkKey,
        query: &[],
        body: EVENTS,
        ok: ACCEPTED,
        statuses: &[413, 415],
    },
    Endpoint {
        method: Method::Post,
        path: "/events/bulk/{clientSideId}",
        operation_id: "postBrowserEvents",
        summary: "Analytics events from browser SDKs and the snippet (CORS)",
        auth: Auth::ClientSideId,
        query: &[Param {
            name: "sdk",
            kind: ParamType::String,
            description: "`Name/version` of the sender, for clients that cannot set headers",
        }],
        body: EVENTS,
        ok: ACCEPTED,
        statuses: &[413, 415],
    },
    Endpoint {
        method: Method::Post,
        path: "/v2/event-data-import/{projectKey}/{environmentKey}",
        operation_id: "postImportedEvents",
        summary: "Metric import: custom events from a data pipeline",
        auth: Auth::Writer,
        query: &[],
        body: EVENTS,
        ok: ACCEPTED,
        statuses: &[404, 413, 415],
    },
    Endpoint {
        method: Method::Post,
        path: "/diagnostic",
        operation_id: "postDiagnostic",
        summary: "SDK diagnostics (accepted and ignored; also `/mobile/events/diagnostic`)",
        auth: Auth::Public,
        query: &[],
        body: None,
        ok: reply(202, "Accepted", None),
        statuses: &[],
    },
    Endpoint {
        method: Method::Post,
        path: "/events/diagnostic/{clientSideId}",
        operation_id: "postBrowserDiagnostic",
        summary: "Browser SDK diagnostics (accepted and ignored)",
        auth: Auth::Public,
        query: &[],
        body: None,
        ok: reply(202, "Accepted", None),
        statuses: &[],
    },
    Endpoint {
        method: Method::Get,
        path: "/sdk/goals/{clientSideId}",
        operation_id: "getGoals",
        summary: "Click and page-view metrics as browser goals (ETag: a 304 answers If-None-Match)",
        auth: Auth::ClientSideId,
        query: &[],
        body: None,
        ok: reply(200, "Goals", Some(Body::ListOf("Goal"))),
        statuses: &[304],
    },
    Endpoint {
        method: Method::Get,
        path: "/sdk/evalx/{clientSideId}/contexts/{context}",
        operation_id: "getFlagValues",
        summary: "Every flag available to the client-side ID, evaluated for a context",
        auth: Auth::ClientSideId,
        query: &[WITH_REASONS],
        body: None,
        ok: reply(200, "Flag key → value", Some(Body::MapOf("FlagValue"))),
        statuses: &[400],
    },
    Endpoint {
        method: Method::Report,
        path: "/sdk/evalx/{clientSideId}/context",
        operation_id: "reportFlagValues",
        summary: "Every flag available to the client-side ID, evaluated for the context in the body",
        auth: Auth::ClientSideId,
        query: &[WITH_REASONS],
        body: Some(Body::Schema("Context")),
        ok: reply(200, "Flag key → value", Some(Body::MapOf("FlagValue"))),
        statuses: &[],
    },
];

/// Metrics, flags and tokens.
const RESOURCES: &[Endpoint] = &[
    Endpoint {
        method: Method::Get,
        path: "/api/v2/metrics/{projectKey}",
        operation_id: "getMetrics",
        summary: "List metrics",
        auth: Auth::Reader,
        query: &[
            Param {
                name: "limit",
                kind: ParamType::Integer,
                description: "1 to 50, default 20",
            },
            Param {
                name: "offset",
                kind: ParamType::Integer,
                description: "Default 0",
            },
            Param {
                name: "sort",
                kind: ParamType::String,
                description: "`name` or `createdAt`, `-` first for descending (default `-createdAt`)",
            },
            Param {
                name: "filter",
                kind: ParamType::String,
                description: "Comma-separated `field:value` terms: query, tags (`a+b`: all), eventKind, isNumeric, eventKey, maintainerIds",
            },
            Param {
                name: "expand",
                kind: ParamType::String,
                description: "Only `experimentCount` (LaunchDarkly's one list expansion), which is always included; anything else is refused",
            },
        ],
        body: None,
        ok: reply(200, "A page of metrics", Some(Body::Schema("MetricCollectionRep"))),
        statuses: &[400, 404],
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v2/metrics/{projectKey}",
        operation_id: "postMetric",
        summary: "Create a metric",
        auth: Auth::Writer,
        query: &[],
        body: Some(Body::Schema("MetricPost")),
        ok: reply(201, "Created", Some(Body::Schema("MetricRep"))),
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v2/metrics/{projectKey}/{metricKey}",
        operation_id: "getMetric",
        summary: "Get a metric",
        auth: Auth::Reader,
        query: &[],
        body: None,
        ok: reply(200, "The metric", Some(Body::Schema("MetricRep"))),
        statuses: &[404],
    },
    Endpoint {
        method: Method::Patch,
        path: "/api/v2/metrics/{projectKey}/{metricKey}",
        operation_id: "patchMetric",
        summary: "Update a metric with a JSON Patch; a failed `test` of `/_version` is a 409, and a running experiment locks its kind and event key",
        auth: Auth::Writer,
        query: &[],
        body: PATCH,
        ok: reply(200, "Updated", Some(Body::Schema("MetricRep"))),
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Delete,
        path: "/api/v2/metrics/{projectKey}/{metricKey}",
        operation_id: "deleteMetric",
        summary: "Delete a metric (409 while a running experiment uses it)",
        auth: Auth::Writer,
        query: &[],
        body: None,
        ok: DELETED,
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v2/flags/{projectKey}",
        operation_id: "getFlags",
        summary: "List flags",
        auth: Auth::Reader,
        query: &[],
        body: None,
        ok: reply(200, "The flags", Some(Body::Schema("FlagCollection"))),
        statuses: &[404],
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v2/flags/{projectKey}",
        operation_id: "postFlag",
        summary: "Create a flag",
        auth: Auth::Writer,
        query: &[],
        body: Some(Body::Schema("FlagPost")),
        ok: reply(201, "Created", Some(Body::Schema("Flag"))),
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v2/flags/{projectKey}/{flagKey}",
        operation_id: "getFlag",
        summary: "Get a flag",
        auth: Auth::Reader,
        query: &[],
        body: None,
        ok: reply(200, "The flag", Some(Body::Schema("Flag"))),
        statuses: &[404],
    },
    Endpoint {
        method: Method::Patch,
        path: "/api/v2/flags/{projectKey}/{flagKey}",
        operation_id: "patchFlag",
        summary: "Update a flag with a JSON Patch (a `test` of `/_version` is a compare-and-set)",
        auth: Auth::Writer,
        query: &[],
        body: PATCH,
        ok: reply(200, "Updated", Some(Body::Schema("Flag"))),
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Delete,
        path: "/api/v2/flags/{projectKey}/{flagKey}",
        operation_id: "deleteFlag",
        summary: "Delete a flag (409 while a running experiment uses it)",
        auth: Auth::Writer,
        query: &[],
        body: None,
        ok: DELETED,
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v2/tokens",
        operation_id: "getTokens",
        summary: "List access tokens",
        auth: Auth::Writer,
        query: &[],
        body: None,
        ok: reply(200, "The tokens (secrets obfuscated)", Some(Body::Schema("TokenCollection"))),
        statuses: &[],
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v2/tokens",
        operation_id: "postToken",
        summary: "Create an access token; its secret is shown once",
        auth: Auth::Writer,
        query: &[],
        body: Some(Body::Schema("TokenPost")),
        ok: reply(201, "Created", Some(Body::Schema("Token"))),
        statuses: &[],
    },
    Endpoint {
        method: Method::Delete,
        path: "/api/v2/tokens/{id}",
        operation_id: "deleteToken",
        summary: "Delete an access token",
        auth: Auth::Writer,
        query: &[],
        body: None,
        ok: DELETED,
        statuses: &[404],
    },
];

/// Experiments, results and the read-outs of an environment.
const EXPERIMENTS: &[Endpoint] = &[
    Endpoint {
        method: Method::Get,
        path: env_path!("/experiments"),
        operation_id: "getExperiments",
        summary: "List the environment's experiments",
        auth: Auth::Reader,
        query: &[],
        body: None,
        ok: reply(200, "The experiments", Some(Body::Schema("ExperimentCollection"))),
        statuses: &[404],
    },
    Endpoint {
        method: Method::Post,
        path: env_path!("/experiments"),
        operation_id: "postExperiment",
        summary: "Create an experiment on a flag and metrics of the project",
        auth: Auth::Writer,
        query: &[],
        body: Some(Body::Schema("ExperimentPost")),
        ok: reply(201, "Created", Some(Body::Schema("Experiment"))),
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Get,
        path: env_path!("/experiments/{experimentKey}"),
        operation_id: "getExperiment",
        summary: "Get an experiment",
        auth: Auth::Reader,
        query: &[],
        body: None,
        ok: reply(200, "The experiment", Some(Body::Schema("Experiment"))),
        statuses: &[404],
    },
    Endpoint {
        method: Method::Patch,
        path: env_path!("/experiments/{experimentKey}"),
        operation_id: "patchExperiment",
        summary: "Semantic patch: start or stop an iteration, rename, change the analysis",
        auth: Auth::Writer,
        query: &[],
        body: Some(Body::Schema("ExperimentPatch")),
        ok: reply(200, "Updated", Some(Body::Schema("Experiment"))),
        statuses: &[404, 409],
    },
    Endpoint {
        method: Method::Get,
        path: env_path!("/experiments/{experimentKey}/results"),
        operation_id: "getExperimentResults",
        summary: "Per-variation results of one metric of one iteration",
        auth: Auth::Reader,
        query: &[
            Param {
                name: "metric",
                kind: ParamType::String,
                description: "Metric key (default: the primary metric)",
            },
            Param {
                name: "iteration",
                kind: ParamType::Integer,
                description: "Iteration number (default: the latest)",
            },
            Param {
                name: "analysis",
                kind: ParamType::OneOf(&["bayesian", "frequentist", "sequential"]),
                description: "Override the experiment's analysis",
            },
            Param {
                name: "difference",
                kind: ParamType::OneOf(&["relative", "absolute"]),
                description: "Override the difference type",
            },
        ],
        body: None,
        ok: reply(200, "The results", Some(Body::Schema("ExperimentResults"))),
        statuses: &[400, 404],
    },
    Endpoint {
        method: Method::Get,
        path: env_path!("/flags/{flagKey}/first-variation/{contextKind}/{contextKey}"),
        operation_id: "getFirstVariation",
        summary: "The first variation a context received in the 90 days before `at`",
        auth: Auth::Reader,
        query: &[Param {
            name: "at",
            kind: ParamType::Integer,
            description: "Unix milliseconds (default: now)",
        }],
        body: None,
        ok: reply(200, "The first variation", Some(Body::Schema("FirstVariation"))),
        statuses: &[400, 404],
    },
    Endpoint {
        method: Method::Get,
        path: env_path!("/events/recent"),
        operation_id: "getRecentEvents",
        summary: "The newest payloads accepted in the last hour, with their first events (live feed)",
        auth: Auth::Reader,
        query: &[Param {
            name: "limit",
            kind: ParamType::Integer,
            description: "1 to 100, default 20",
        }],
        body: None,
        ok: reply(200, "Feed entries, newest first", Some(Body::Schema("FeedPage"))),
        statuses: &[400, 404],
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v2/projects/{projectKey}/event-keys",
        operation_id: "getEventKeys",
        summary: "Custom event keys and goal keys received in the last 30 days (to choose a metric's event key)",
        auth: Auth::Reader,
        query: &[
            Param {
                name: "search",
                kind: ParamType::String,
                description: "Substring of the key, case-insensitive",
            },
            Param {
                name: "limit",
                kind: ParamType::Integer,
                description: "1 to 100, default 50",
            },
        ],
        body: None,
        ok: reply(200, "Most recently seen first", Some(Body::Schema("EventKeyPage"))),
        statuses: &[400, 404],
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v2/ops/ingest",
        operation_id: "getIngestStats",
        summary: "This isolate's ingest pipeline: messages queued and consumed, the most KV operations and subrequests of one consumer invocation, skipped records, wasm memory",
        auth: Auth::Reader,
        query: &[],
        body: None,
        ok: reply(200, "Ingest figures", Some(Body::Schema("IngestStats"))),
        statuses: &[],
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v2/openapi.json",
        operation_id: "getOpenApi",
        summary: "This document",
        auth: Auth::Public,
        query: &[],
        body: None,
        ok: reply(200, "OpenAPI 3.1 document", None),
        statuses: &[],
    },
];

/// Every route, in the document's order.
pub fn all() -> impl Iterator<Item = &'static Endpoint> {
    INGEST.iter().chain(RESOURCES).chain(EXPERIMENTS)
}
