//! Tenancy and credentials.
//!
//! Projects contain environments; each environment has a public client-side ID and a secret SDK
//! key. API access tokens have a role. Secrets are stored only as SHA-256 digests, looked up by
//! digest and compared in constant time. The first environment and tokens are seeded from the
//! Worker's secrets (`.dev.vars` locally), once per change of those secrets.

use super::{kv, random_hex, CONFIG_KV};
use crate::error::ApiError;
use crate::http::now_ms;
use edge_exp_core::credentials;
use edge_exp_core::token::TokenPost;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use worker::{Env, KvStore};

/// The environment an SDK credential belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub project: String,
    pub env: String,
}

pub use edge_exp_core::token::{Role, TokenInfo};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub role: Role,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SdkKeyRecord {
    #[serde(flatten)]
    tenant: Tenant,
    digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentRecord {
    project: String,
    key: String,
    client_side_id: String,
}

/// How long a positive credential lookup is trusted by this isolate before KV is asked again.
const CACHE_MS: i64 = 60_000;

thread_local! {
    static SEEDED: Cell<bool> = const { Cell::new(false) };
    static CACHE: RefCell<HashMap<String, (serde_json::Value, i64)>> = RefCell::new(HashMap::new());
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.is_empty())
}

/// Read a KV JSON record, through the per-isolate cache.
async fn cached<T: DeserializeOwned + Serialize>(
    store: &KvStore,
    key: &str,
) -> Result<Option<T>, ApiError> {
    if key.len() > super::MAX_KV_KEY_BYTES {
        // No record was ever stored under a key KV cannot hold: not found, without asking KV.
        return Ok(None);
    }
    let now = now_ms();
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(key)
            .filter(|(_, at)| now - at < CACHE_MS)
            .map(|(v, _)| v.clone())
    });
    if let Some(v) = hit {
        return Ok(serde_json::from_value(v).ok());
    }
    let found: Option<T> = store.get(key).json().await?;
    if let Some(v) = &found {
        let json = serde_json::to_value(v)?;
        CACHE.with(|c| c.borrow_mut().insert(key.to_owned(), (json, now)));
    }
    Ok(found)
}

/// Write the seed environment and tokens from the Worker's secrets, if they changed.
pub async fn ensure_seeded(env: &Env) -> Result<(), ApiError> {
    if SEEDED.with(Cell::get) {
        return Ok(());
    }
    // Without seed credentials the deployment manages its credentials another way.
    if let Some(seed) = Seed::from_env(env) {
        let store = kv(env, CONFIG_KV)?;
        let fingerprint = seed.fingerprint();
        if store.get("seed").text().await?.as_deref() != Some(fingerprint.as_str()) {
            seed.write(&store).await?;
            store.put("seed", fingerprint)?.execute().await?;
        }
    }
    SEEDED.with(|s| s.set(true));
    Ok(())
}

/// The seed project, environment and credentials, from the Worker's vars and secrets.
struct Seed {
    tenant: Tenant,
    sdk_key: String,
    client_side_id: String,
    tokens: Vec<(&'static str, Role, String)>,
}

impl Seed {
    fn from_env(env: &Env) -> Option<Seed> {
        let tenant = Tenant {
            project: var(env, "PROJECT_KEY").unwrap_or_else(|| "default".into()),
            env: var(env, "ENVIRONMENT_KEY").unwrap_or_else(|| "production".into()),
        };
        let tokens = [
            ("seed-writer", Role::Writer, var(env, "API_TOKEN")),
            ("seed-reader", Role::Reader, var(env, "API_READER_TOKEN")),
        ]
        .into_iter()
        .filter_map(|(id, role, secret)| secret.map(|s| (id, role, s)))
        .collect();
        Some(Seed {
            tenant,
            sdk_key: var(env, "SDK_KEY")?,
            client_side_id: var(env, "CLIENT_SIDE_ID")?,
            tokens,
        })
    }

    /// Changes when any seed value does: the records are written again only then.
    fn fingerprint(&self) -> String {
        let Tenant { project, env } = &self.tenant;
        let secrets: Vec<&str> = self.tokens.iter().map(|t| t.2.as_str()).collect();
        credentials::digest(&format!(
            "{project}\n{env}\n{}\n{}\n{}",
            self.sdk_key,
            self.client_side_id,
            secrets.join("\n")
        ))
    }

    async fn write(&self, store: &KvStore) -> Result<(), ApiError> {
        let Tenant { project, env } = &self.tenant;
        let environment = EnvironmentRecord {
            project: project.clone(),
            key: env.clone(),
            client_side_id: self.client_side_id.clone(),
        };
        put_json(store, &format!("env:{project}:{env}"), &environment).await?;
        let digest = credentials::digest(&self.sdk_key);
        let sdk_key = SdkKeyRecord {
            tenant: self.tenant.clone(),
            digest: digest.clone(),
        };
        put_json(store, &format!("sdk:{digest}"), &sdk_key).await?;
        put_json(store, &format!("cid:{}", self.client_side_id), &self.tenant).await?;
        let listing = serde_json::json!({"key": project, "environments": [env]});
        put_json(store, &format!("project:{project}"), &listing).await?;
        for (id, role, secret) in &self.tokens {
            let post = TokenPost {
                name: format!("Seed {role:?} token"),
                role: *role,
            };
            store_token(store, id, post, secret, now_ms()).await?;
        }
        Ok(())
    }
}

async fn put_json<T: Serialize>(store: &KvStore, key: &str, value: &T) -> Result<(), ApiError> {
    store
        .put(key, serde_json::to_string(value)?)?
        .execute()
        .await?;
    Ok(())
}

/// The environment whose SDK (or mobile) key this is.
pub async fn tenant_by_sdk_key(env: &Env, sdk_key: &str) -> Result<Option<Tenant>, ApiError> {
    let digest = credentials::digest(sdk_key);
    let record: Option<SdkKeyRecord> =
        cached(&kv(env, CONFIG_KV)?, &format!("sdk:{digest}")).await?;
    Ok(record
        .filter(|r| credentials::matches(sdk_key, &r.digest))
        .map(|r| r.tenant))
}

/// The environment with this public client-side ID.
pub async fn tenant_by_client_side_id(env: &Env, id: &str) -> Result<Option<Tenant>, ApiError> {
    cached(&kv(env, CONFIG_KV)?, &format!("cid:{id}")).await
}

/// The API access token with this secret.
pub async fn token(env: &Env, secret: &str) -> Result<Option<TokenRecord>, ApiError> {
    let digest = credentials::digest(secret);
    let record: Option<TokenRecord> =
        cached(&kv(env, CONFIG_KV)?, &format!("tok:{digest}")).await?;
    Ok(record.filter(|r| credentials::matches(secret, &r.digest)))
}

/// Does this project exist?
pub async fn project_exists(env: &Env, project: &str) -> Result<bool, ApiError> {
    let record: Option<serde_json::Value> =
        cached(&kv(env, CONFIG_KV)?, &format!("project:{project}")).await?;
    Ok(record.is_some())
}

async fn store_token(
    store: &KvStore,
    id: &str,
    post: TokenPost,
    secret: &str,
    now: i64,
) -> Result<TokenInfo, ApiError> {
    let info = TokenInfo::new(id.into(), post, secret, now);
    let record = TokenRecord {
        id: id.into(),
        role: info.role,
        digest: info.digest.clone(),
    };
    put_json(store, &format!("tok:{}", info.digest), &record).await?;
    put_json(store, &format!("tokid:{id}"), &info).await?;
    Ok(info)
}

/// Create a token; returns it and its secret (shown once).
pub async fn create_token(env: &Env, post: TokenPost) -> Result<(TokenInfo, String), ApiError> {
    let secret = format!("api-{}", random_hex(16)?);
    let id = random_hex(12)?;
    let info = store_token(&kv(env, CONFIG_KV)?, &id, post, &secret, now_ms()).await?;
    Ok((info, secret))
}

pub async fn list_tokens(env: &Env) -> Result<Vec<TokenInfo>, ApiError> {
    let store = kv(env, CONFIG_KV)?;
    let mut infos = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = store.list().prefix("tokid:".into());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        for key in page.keys {
            if let Some(info) = store.get(&key.name).json::<TokenInfo>().await? {
                infos.push(info);
            }
        }
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    infos.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then(a.id.cmp(&b.id)));
    Ok(infos)
}

/// Delete a token by ID. Returns false if there is no such token.
pub async fn delete_token(env: &Env, id: &str) -> Result<bool, ApiError> {
    let store = kv(env, CONFIG_KV)?;
    if id.len() + "tokid:".len() > super::MAX_KV_KEY_BYTES {
        return Ok(false);
    }
    let Some(info) = store
        .get(&format!("tokid:{id}"))
        .json::<TokenInfo>()
        .await?
    else {
        return Ok(false);
    };
    let token_key = format!("tok:{}", info.digest);
    store.delete(&token_key).await?;
    store.delete(&format!("tokid:{id}")).await?;
    // This isolate forgets it now; others within the cache lifetime (CACHE_MS).
    CACHE.with(|c| c.borrow_mut().remove(&token_key));
    Ok(true)
}

/// The environment's public client-side ID (LaunchDarkly's edge SDKs name their KV key by it).
pub async fn client_side_id_of(
    env: &Env,
    project: &str,
    env_key: &str,
) -> Result<Option<String>, ApiError> {
    let record: Option<EnvironmentRecord> =
        cached(&kv(env, CONFIG_KV)?, &format!("env:{project}:{env_key}")).await?;
    Ok(record.map(|r| r.client_side_id))
}

/// Does this project/environment exist?
pub async fn environment_exists(env: &Env, project: &str, env_key: &str) -> Result<bool, ApiError> {
    let record: Option<EnvironmentRecord> =
        cached(&kv(env, CONFIG_KV)?, &format!("env:{project}:{env_key}")).await?;
    Ok(record.is_some())
}
