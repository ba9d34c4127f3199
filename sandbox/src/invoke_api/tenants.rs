//! Tenant isolation (docs/src/sandbox.md#tenant-isolation): a function
//! whose callers name a tenant in `X-Amz-Tenant-Id` gets one execution
//! environment per tenant, started on the tenant's first invocation and
//! kept warm, so that nothing an environment holds is ever seen by another
//! tenant.

use std::collections::HashMap;

use crate::config::{Config, check_tenant_id};
use crate::lifecycle::environment::Environment;

/// The header a caller names its tenant in.
pub const TENANT_HEADER: &str = "x-amz-tenant-id";

/// The environments behind the Invoke API.
pub enum Environments {
    /// One environment for every caller: a function without tenant isolation.
    Shared(Environment),
    /// One environment per tenant.
    PerTenant(Box<Tenants>),
}

pub struct Tenants {
    /// What each tenant's environment starts from.
    config: Config,
    /// The most tenants served at once.
    max: usize,
    started: tokio::sync::Mutex<HashMap<String, Environment>>,
}

/// Why a request gets no environment.
#[derive(Debug)]
pub enum Refusal {
    /// Tenant isolation is on and the request names no tenant.
    Missing,
    /// Tenant isolation is off and the request names a tenant.
    Unexpected,
    Invalid(String),
    TooMany(usize),
    /// The tenant's environment could not start.
    Start(String),
}

impl Environments {
    pub fn per_tenant(config: Config, max: usize) -> Self {
        Environments::PerTenant(Box::new(Tenants {
            config,
            max,
            started: tokio::sync::Mutex::new(HashMap::new()),
        }))
    }

    /// The configuration every environment here runs with (but the tenant).
    pub fn config(&self) -> &Config {
        match self {
            Environments::Shared(env) => env.config(),
            Environments::PerTenant(tenants) => &tenants.config,
        }
    }

    /// The environment that serves `tenant`: the shared one, or the
    /// tenant's own, started now if this is its first invocation.
    pub async fn for_tenant(&self, tenant: Option<&str>) -> Result<Environment, Refusal> {
        let tenants = match (self, tenant) {
            (Environments::Shared(env), None) => return Ok(env.clone()),
            (Environments::Shared(_), Some(_)) => return Err(Refusal::Unexpected),
            (Environments::PerTenant(_), None) => return Err(Refusal::Missing),
            (Environments::PerTenant(tenants), Some(_)) => tenants,
        };
        let tenant = tenant.expect("matched above");
        check_tenant_id(tenant).map_err(Refusal::Invalid)?;
        // Held while a tenant's environment starts: two first requests of
        // one tenant must not start two environments.
        let mut started = tenants.started.lock().await;
        if let Some(env) = started.get(tenant) {
            return Ok(env.clone());
        }
        if started.len() >= tenants.max {
            return Err(Refusal::TooMany(tenants.max));
        }
        let config = Config {
            tenant_id: Some(tenant.to_string()),
            ..tenants.config.clone()
        };
        let env = Environment::start(config)
            .await
            .map_err(|e| Refusal::Start(e.to_string()))?;
        started.insert(tenant.to_string(), env.clone());
        Ok(env)
    }

    /// Every environment started so far.
    pub async fn all(&self) -> Vec<Environment> {
        match self {
            Environments::Shared(env) => vec![env.clone()],
            Environments::PerTenant(tenants) => {
                tenants.started.lock().await.values().cloned().collect()
            }
        }
    }

    /// The environment of one tenant, if it has been started.
    pub async fn tenant(&self, tenant: &str) -> Option<Environment> {
        match self {
            Environments::Shared(_) => None,
            Environments::PerTenant(tenants) => tenants.started.lock().await.get(tenant).cloned(),
        }
    }
}
