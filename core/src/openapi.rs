//! The OpenAPI document of the Worker's REST and events API (`www/api/v2/openapi.json`),
//! generated from the code: paths from the route table in [`endpoints`], schemas derived with
//! utoipa from the types the server (de)serialises, or from the [`shapes`] of what it builds by
//! hand. A native test regenerates it and fails when the committed file differs
//! (`npm run openapi` rewrites it).

pub mod endpoints;
pub mod shapes;
#[cfg(test)]
mod tests;

use endpoints::{Auth, Body, Endpoint, Method, ParamType};
use std::collections::BTreeMap;
use utoipa::openapi::path::{
    Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, ResponsesBuilder, Server,
};
use utoipa::ToSchema;

/// Where the document is served from (a static asset of `www/`).
pub const DOCUMENT_PATH: &str = "www/api/v2/openapi.json";

pub fn document() -> OpenApi {
    let info = InfoBuilder::new()
        .title("edge-exp REST and events API")
        .version("1.0.0")
        .description(Some(
            "LaunchDarkly-compatible events endpoints, browser SDK routes and REST API v2 \
             (metrics, flags, experiments and results, tokens, read-outs) served by the edge-exp \
             Worker. REST calls send an API access token raw in `Authorization` (`Bearer` \
             accepted). Generated from the code (core/src/openapi).",
        ))
        .build();
    OpenApiBuilder::new()
        .info(info)
        .servers(Some([Server::new("/")]))
        .paths(paths())
        .components(Some(components()))
        .build()
}

/// The document as committed: pretty JSON with a final newline.
pub fn to_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the document serialises");
    text.push('\n');
    text
}

fn paths() -> utoipa::openapi::Paths {
    let mut items: Vec<(&str, PathItem)> = Vec::new();
    for e in endpoints::all() {
        let index = match items.iter().position(|(p, _)| *p == e.path) {
            Some(i) => i,
            None => {
                items.push((e.path, PathItem::default()));
                items.len() - 1
            }
        };
        add_operation(&mut items[index].1, e.method, operation(e));
    }
    items
        .into_iter()
        .fold(PathsBuilder::new(), |b, (path, item)| b.path(path, item))
        .build()
}

fn add_operation(item: &mut PathItem, method: Method, op: Operation) {
    let slot = match method {
        Method::Get => &mut item.get,
        Method::Post => &mut item.post,
        Method::Patch => &mut item.patch,
        Method::Delete => &mut item.delete,
        Method::Put => &mut item.put,
        Method::Report => {
            let value = serde_json::to_value(&op).expect("an operation serialises");
            let ext = item.extensions.get_or_insert_with(Default::default);
            ext.insert("x-report".into(), value);
            return;
        }
    };
    *slot = Some(op);
}

fn operation(e: &Endpoint) -> Operation {
    let mut op = OperationBuilder::new()
        .operation_id(Some(e.operation_id))
        .summary(Some(e.summary))
        .parameters(Some(parameters(e)))
        .securities(Some(security(e.auth)))
        .responses(responses(e));
    if let Some(body) = e.body {
        let content = ContentBuilder::new().schema(Some(schema_of(body))).build();
        let mut request = RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content("application/json", content);
        if let Some(name) = e.semantic {
            let semantic = ContentBuilder::new().schema(Some(schema_of(Body::Schema(name)))).build();
            request = request.content("application/json; domain-model=launchdarkly.semanticpatch", semantic);
        }
        let request = request.build();
        op = op.request_body(Some(request));
    }
    op.build()
}

fn security(auth: Auth) -> Vec<SecurityRequirement> {
    let scheme = match auth {
        Auth::SdkKey => "SdkKey",
        Auth::Reader | Auth::Writer => "ApiKey",
        Auth::Public | Auth::ClientSideId => return Vec::new(),
    };
    vec![SecurityRequirement::new::<_, [&str; 0], &str>(scheme, [])]
}

fn parameters(e: &Endpoint) -> Vec<utoipa::openapi::path::Parameter> {
    let in_path = e
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(path_parameter(name)))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build()
        });
    let in_query = e.query.iter().map(|p| {
        ParameterBuilder::new()
            .name(p.name)
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(p.description))
            .schema(Some(query_schema(p.kind)))
            .build()
    });
    in_path.chain(in_query).collect()
}

/// What each path parameter is (one wording for every route).
fn path_parameter(name: &str) -> &'static str {
    match name {
        "projectKey" => "Project key",
        "environmentKey" => "Environment key",
        "metricKey" => "Metric key",
        "flagKey" => "Flag key",
        "segmentKey" => "Segment key",
        "experimentKey" => "Experiment key",
        "clientSideId" => "The environment's public client-side ID",
        "context" => "The context JSON, base64url without padding",
        "contextKind" => "Context kind",
        "contextKey" => "Context key",
        "id" => "Token ID",
        _ => "",
    }
}

fn query_schema(kind: ParamType) -> Schema {
    let b = ObjectBuilder::new();
    match kind {
        ParamType::Text => b.schema_type(Type::String),
        ParamType::Integer => b.schema_type(Type::Integer).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
        )),
        ParamType::Boolean => b.schema_type(Type::Boolean),
        ParamType::OneOf(values) => b.schema_type(Type::String).enum_values(Some(values.iter().copied())),
    }
    .into()
}

fn schema_of(body: Body) -> RefOr<Schema> {
    match body {
        Body::Schema(name) => Ref::from_schema_name(name).into(),
        Body::ListOf(name) => ArrayBuilder::new()
            .items(Ref::from_schema_name(name))
            .build()
            .into(),
        Body::MapOf(name) => ObjectBuilder::new()
            .additional_properties(Some(Ref::from_schema_name(name)))
            .build()
            .into(),
    }
}

fn responses(e: &Endpoint) -> utoipa::openapi::Responses {
    let json = |body: Body| ContentBuilder::new().schema(Some(schema_of(body))).build();
    let mut b = ResponsesBuilder::new();
    let mut ok = ResponseBuilder::new().description(e.ok.description);
    if let Some(body) = e.ok.body {
        ok = ok.content("application/json", json(body));
    }
    b = b.response(e.ok.status.to_string(), ok.build());
    for status in other_statuses(e) {
        let mut r = ResponseBuilder::new().description(meaning(status));
        if status >= 400 {
            r = r.content("application/json", json(Body::Schema("Error")));
        }
        b = b.response(status.to_string(), r.build());
    }
    b.build()
}

/// The route's own statuses plus the errors its credential and body imply, in order.
fn other_statuses(e: &Endpoint) -> Vec<u16> {
    let mut all: Vec<u16> = e.statuses.to_vec();
    match e.auth {
        Auth::SdkKey | Auth::Reader => all.push(401),
        Auth::Writer => all.extend([401, 403]),
        Auth::ClientSideId => all.push(404),
        Auth::Public => {}
    }
    if e.body.is_some() {
        all.push(400);
    }
    all.sort_unstable();
    all.dedup();
    all
}

fn meaning(status: u16) -> &'static str {
    match status {
        304 => "Not modified (If-None-Match)",
        400 => "Invalid request: which field or parameter, and why",
        401 => "Missing or unknown credential",
        403 => "Reader token on a write",
        404 => "Not found: which resource",
        409 => "Conflict: the key exists, the resource is in use, or a version check failed",
        413 => "Body over its limit",
        415 => "Unsupported Content-Encoding or Content-Type",
        503 => "Not available right now: retry (SDKs do)",
        _ => "Error",
    }
}

/// The named schemas of the types given, and every schema they refer to.
macro_rules! schemas_of {
    ($($t:ty),* $(,)?) => {{
        let mut into: Vec<(String, RefOr<Schema>)> = Vec::new();
        $(collect::<$t>(&mut into);)*
        into
    }};
}

fn components() -> utoipa::openapi::Components {
    // Every named type a route reads or answers; those they refer to come with them.
    let schemas = schemas_of![
        shapes::ErrorBody,
        shapes::Event,
        crate::event::EventsAccepted,
        shapes::Context,
        crate::matcher::Goal,
        shapes::FlagValue,
        shapes::MetricPost,
        shapes::MetricCollectionRep,
        shapes::PatchOperation,
        shapes::FlagPost,
        shapes::FlagCollection,
        shapes::SegmentPost,
        shapes::FlagSemanticPatch,
        shapes::SegmentSemanticPatch,
        shapes::SegmentCollection,
        shapes::TokenPost,
        shapes::TokenCollection,
        shapes::MeasuredRolloutCollection,
        shapes::MeasuredRolloutSeries,
        shapes::MeasuredRolloutEvents,
        shapes::MeasuredRolloutPatch,
        crate::rollout::MeasuredRolloutRep<'static>,
        shapes::WebhookPost,
        shapes::WebhookCollection,
        crate::webhook::WebhookRep<'static>,
        shapes::ExperimentPost,
        shapes::ExperimentCollection,
        shapes::ExperimentPatch,
        crate::results::ExperimentResults,
        crate::attribution::FirstVariation,
        crate::feed::FeedPage,
        shapes::EventKeyPage,
        crate::queued::IngestStats,
        crate::queued::FlagReads,
        crate::bots::BotCounts,
        crate::bots::BotFilter,
        crate::bots::Tiers,
        crate::bots::Excluded,
    ];
    let unique: BTreeMap<String, RefOr<Schema>> = schemas.into_iter().collect();
    ComponentsBuilder::new()
        .schemas_from_iter(unique)
        .security_scheme(
            "ApiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An API access token (reader or writer), raw or after `Bearer `.",
            ))),
        )
        .security_scheme(
            "SdkKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The environment's SDK key (or mobile key).",
            ))),
        )
        .build()
}

/// `T`'s schema and every schema it refers to.
fn collect<T: ToSchema>(into: &mut Vec<(String, RefOr<Schema>)>) {
    into.push((T::name().into_owned(), T::schema()));
    T::schemas(into);
}
