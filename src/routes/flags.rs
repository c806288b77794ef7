//! `/api/v2/flags/{projectKey}[/{flagKey}]`: flags CRUD (JSON Patch updates), rules in
//! `core::flag`, stored in the project's Durable Object.

use crate::error::ApiError;
use crate::routes::body;
use crate::routes::rest::{authorize, require_project, run};
use edge_exp_core::project::Command;
use worker::{Env, Method, Request, Response};

pub async fn collection(req: &mut Request, env: &Env, project: &str) -> Result<Response, ApiError> {
    let method = authorize(req, env, &[Method::Post]).await?;
    require_project(env, project).await?;
    let command = if method == Method::Get {
        Command::FlagList {
            project: project.into(),
        }
    } else {
        Command::FlagCreate {
            project: project.into(),
            body: body::json(req).await?,
        }
    };
    run(env, project, command).await
}

pub async fn item(
    req: &mut Request,
    env: &Env,
    project: &str,
    key: &str,
) -> Result<Response, ApiError> {
    let method = authorize(req, env, &[Method::Patch, Method::Delete]).await?;
    require_project(env, project).await?;
    let command = match method {
        Method::Get => Command::FlagGet {
            project: project.into(),
            key: key.into(),
        },
        Method::Patch => Command::FlagPatch {
            project: project.into(),
            key: key.into(),
            patch: body::json(req).await?,
        },
        _ => Command::FlagDelete { key: key.into() },
    };
    run(env, project, command).await
}
