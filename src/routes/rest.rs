//! What every REST resource route shares: the role a method needs, the existence checks, and
//! turning a Durable Object's reply into a response.

use crate::error::ApiError;
use crate::http::{empty, json};
use crate::routes::{auth, body};
use crate::store::config::{self, Role};
use crate::store::projects::ProjectStore;
use crate::store::ObjectClass;
use edge_exp_core::project::{Command, Verb};
use edge_exp_core::Error;
use worker::{Env, Method, Request, Response};

/// Authorise `req` for its method: `GET` needs a reader token, the `writes` methods a writer
/// token; any other method is 405.
pub async fn authorize(req: &Request, env: &Env, writes: &[Method]) -> Result<Method, ApiError> {
    let method = req.method();
    let role = if method == Method::Get {
        Role::Reader
    } else if writes.contains(&method) {
        Role::Writer
    } else {
        return Err(ApiError::method_not_allowed());
    };
    auth::api_token(req, env, role).await?;
    Ok(method)
}

pub async fn require_project(env: &Env, project: &str) -> Result<(), ApiError> {
    if config::project_exists(env, project).await? {
        Ok(())
    } else {
        Err(ApiError(Error::NotFound(format!(
            "project `{project}` not found"
        ))))
    }
}

pub async fn require_environment(env: &Env, project: &str, env_key: &str) -> Result<(), ApiError> {
    if config::environment_exists(env, project, env_key).await? {
        Ok(())
    } else {
        Err(ApiError(Error::NotFound(format!(
            "environment `{env_key}` in project `{project}` not found"
        ))))
    }
}

/// A resource route's place: a project's (flags, metrics) or an environment's (experiments).
pub enum Scope<'a> {
    Project(&'a str),
    Environment(&'a str, &'a str),
}

/// Every REST resource route: authorise the method (the collection takes `POST`, an item the
/// `item_writes`), check the project or environment exists, read the body, and run the command
/// `command` makes of the [`Verb`] (which resource it is on).
pub async fn resource(
    req: &mut Request,
    env: &Env,
    (scope, key): (Scope<'_>, Option<&str>),
    item_writes: &[Method],
    command: impl FnOnce(Verb) -> Command,
) -> Result<Response, ApiError> {
    let writes = if key.is_some() {
        item_writes
    } else {
        &[Method::Post]
    };
    let method = authorize(req, env, writes).await?;
    let project = match scope {
        Scope::Project(p) => {
            require_project(env, p).await?;
            p
        }
        Scope::Environment(p, e) => {
            require_environment(env, p, e).await?;
            p
        }
    };
    // Only a list takes a query (its resource says which parameters); elsewhere one is refused.
    let query = body::query_pairs(req)?;
    let is_list = key.is_none() && method == Method::Get;
    if !is_list {
        edge_exp_core::query::none(&query)?;
    }
    let verb = match (key, method) {
        (None, Method::Get) => Verb::List { query },
        (None, _) => Verb::Create {
            body: body::json(req).await?,
        },
        (Some(k), Method::Get) => Verb::Get { key: k.into() },
        (Some(k), Method::Patch) => Verb::Patch {
            key: k.into(),
            semantic: semantic_patch(req)?,
            body: body::json(req).await?,
        },
        (Some(k), Method::Delete) => Verb::Delete { key: k.into() },
        _ => return Err(ApiError::method_not_allowed()),
    };
    run(env, project, command(verb)).await
}

/// Is the body LaunchDarkly's semantic patch (`Content-Type: application/json;
/// domain-model=launchdarkly.semanticpatch`)? Any other content type is a JSON Patch.
fn semantic_patch(req: &Request) -> Result<bool, ApiError> {
    let content_type = req
        .headers()
        .get("Content-Type")?
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(content_type
        .split(';')
        .skip(1)
        .any(|p| p.trim().replace(' ', "") == "domain-model=launchdarkly.semanticpatch"))
}

/// Run a command on the project's object and answer with its result: 201 for a create, 204
/// without a body for a delete, 200 otherwise.
pub async fn run(env: &Env, project: &str, command: Command) -> Result<Response, ApiError> {
    let status = command.success_status();
    let value: serde_json::Value = ProjectStore::call(env, project, &command).await?;
    Ok(if status == 204 {
        empty(204)
    } else {
        json(status, &value)
    })
}
