//! Tenant isolation in `serve`: one environment per tenant, the tenant
//! passed to the runtime and named in the records, and Lambda's refusals
//! when the header is missing, unexpected or malformed.

mod support;

use lambda_sandbox::{Config, Package, invoke_api};
use serde_json::Value;
use support::{fixture, http, of_type};

const PATH: &str = "/2015-03-31/functions/sandbox-function/invocations";

fn package() -> Package {
    let package = Package::temporary("tenants").unwrap();
    package.bootstrap(&fixture("echo_function")).unwrap();
    package
}

#[tokio::test]
async fn each_tenant_gets_its_own_environment_and_records() {
    let package = package();
    let api = invoke_api::serve_tenants(
        package.config(),
        "127.0.0.1:0".parse().unwrap(),
        None,
        invoke_api::Limits::default(),
    )
    .await
    .unwrap();
    let invoke = |tenant: &'static str| {
        let addr = api.addr;
        async move {
            let reply = http(addr, "POST", PATH, &[("X-Amz-Tenant-Id", tenant)], b"{}").await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply.json()
        }
    };
    let first_a = invoke("tenant-a").await;
    let first_b = invoke("tenant b@example.com").await;
    let second_a = invoke("tenant-a").await;
    // The runtime got the tenant with each event.
    assert_eq!(first_a["tenantId"], "tenant-a");
    assert_eq!(first_b["tenantId"], "tenant b@example.com");
    assert_eq!(second_a["tenantId"], "tenant-a");

    let a = api
        .tenant("tenant-a")
        .await
        .expect("tenant-a's environment");
    let b = api
        .tenant("tenant b@example.com")
        .await
        .expect("tenant b's environment");
    assert_eq!(api.environments().await.len(), 2);
    assert_ne!(
        a.pids().await,
        b.pids().await,
        "one process tree per tenant"
    );
    for (env, tenant, invocations) in [(&a, "tenant-a", 2), (&b, "tenant b@example.com", 1)] {
        env.wait_idle().await;
        let records = env.records();
        // Each ran its own Init, with no tenant known yet.
        let inits = of_type(&records, "platform.initStart");
        assert_eq!(inits.len(), 1);
        assert!(inits[0].record.get("tenantId").is_none());
        // Its records name its tenant, and no other.
        for kind in ["platform.start", "platform.runtimeDone"] {
            let named: Vec<&Value> = of_type(&records, kind)
                .iter()
                .map(|r| &r.record["tenantId"])
                .collect();
            assert_eq!(named.len(), invocations, "{kind}");
            assert!(named.iter().all(|t| *t == tenant), "{kind}: {named:?}");
        }
    }
    for env in api.environments().await {
        env.shutdown().await;
    }
}

#[tokio::test]
async fn a_missing_unexpected_or_malformed_tenant_is_refused() {
    let package = package();
    let tenants = invoke_api::serve_tenants(
        package.config(),
        "127.0.0.1:0".parse().unwrap(),
        None,
        invoke_api::Limits::default(),
    )
    .await
    .unwrap();
    let missing = http(tenants.addr, "POST", PATH, &[], b"{}").await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.headers["x-amzn-errortype"],
        "InvalidParameterValueException"
    );
    assert!(missing.body.contains("X-Amz-Tenant-Id"), "{}", missing.body);
    let malformed = http(
        tenants.addr,
        "POST",
        PATH,
        &[("X-Amz-Tenant-Id", "semi;colon")],
        b"{}",
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(
        malformed.headers["x-amzn-errortype"],
        "InvalidParameterValueException"
    );
    // No environment was started for them.
    assert!(tenants.environments().await.is_empty());

    let env = lambda_sandbox::Environment::start(Config { ..package.config() })
        .await
        .unwrap();
    let shared = invoke_api::serve(env.clone(), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let unexpected = http(
        shared.addr,
        "POST",
        PATH,
        &[("X-Amz-Tenant-Id", "tenant-a")],
        b"{}",
    )
    .await;
    assert_eq!(unexpected.status, 400);
    assert_eq!(
        unexpected.headers["x-amzn-errortype"],
        "InvalidParameterValueException"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn tenants_beyond_the_limit_are_throttled() {
    let package = package();
    let api = invoke_api::serve_tenants(
        package.config(),
        "127.0.0.1:0".parse().unwrap(),
        None,
        invoke_api::Limits {
            max_tenants: 1,
            ..invoke_api::Limits::default()
        },
    )
    .await
    .unwrap();
    let first = http(api.addr, "POST", PATH, &[("X-Amz-Tenant-Id", "one")], b"{}").await;
    assert_eq!(first.status, 200);
    let second = http(api.addr, "POST", PATH, &[("X-Amz-Tenant-Id", "two")], b"{}").await;
    assert_eq!(second.status, 429);
    assert_eq!(
        second.headers["x-amzn-errortype"],
        "TooManyRequestsException"
    );
    for env in api.environments().await {
        env.shutdown().await;
    }
}
