//! `GET/PUT /api/v2/projects/{p}/environments/{e}/bot-filter`: the environment's bot filter
//! (`core::bots::BotFilter`; stored by `store::bot_filter`). GET answers the filter in force (the
//! deployment's default until one is written); PUT replaces it whole, refusing unknown fields.

use crate::error::ApiError;
use crate::http::json_of;
use crate::routes::body;
use crate::routes::rest::{authorize, require_environment};
use crate::store::{bot_filter, config::Tenant};
use edge_exp_core::bots::BotFilter;
use worker::{Env, Method, Request, Response};

pub async fn route(
    req: &mut Request,
    env: &Env,
    project: &str,
    env_key: &str,
) -> Result<Response, ApiError> {
    let method = authorize(req, env, &[Method::Put]).await?;
    body::no_query(req)?;
    require_environment(env, project, env_key).await?;
    let tenant = Tenant {
        project: project.into(),
        env: env_key.into(),
    };
    if method == Method::Put {
        let filter = BotFilter::parse(body::json(req).await?)?;
        bot_filter::write(env, &tenant, filter).await?;
    }
    json_of(200, &*bot_filter::read(env, &tenant).await?)
}
