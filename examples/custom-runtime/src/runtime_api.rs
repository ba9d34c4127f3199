//! A small client for the Runtime API, written out by hand so that every
//! request the runtime makes is visible.

use std::time::Duration;

use serde_json::{Value, json};
use shared::runtime_api::{RUNTIME_API_VAR, base_url};
use ureq::Agent;
use ureq::http::Response;

/// One invocation, as `GET /runtime/invocation/next` hands it over.
pub struct Invocation {
    pub request_id: String,
    /// `Lambda-Runtime-Invocation-Id`, new for every invocation where the
    /// platform sends it; echoed on the answer so that a late answer cannot
    /// reach a later invocation.
    pub invocation_id: Option<String>,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: Option<String>,
    pub event: Vec<u8>,
}

/// An error the runtime reports: `errorType` is `Category.Reason`.
pub struct RuntimeError {
    pub error_type: String,
    pub message: String,
}

/// Cheap to clone: the workers share one connection pool.
#[derive(Clone)]
pub struct RuntimeApi {
    agent: Agent,
    base: String,
}

impl RuntimeApi {
    pub fn from_env() -> Result<Self, String> {
        let value = std::env::var(RUNTIME_API_VAR).map_err(|_| {
            format!(
                "{RUNTIME_API_VAR} is not set: this program must run inside Lambda or the sandbox"
            )
        })?;
        let config = Agent::config_builder()
            // The platform answers with 4xx for protocol errors; read them as answers.
            .http_status_as_error(false)
            // `next` blocks until an event exists, so no timeout on the whole call.
            .timeout_global(None)
            .timeout_connect(Some(Duration::from_secs(2)))
            .build();
        Ok(RuntimeApi {
            agent: config.into(),
            base: format!("{}/2018-06-01/runtime", base_url(&value)?),
        })
    }

    /// Blocks until the platform has an event for this runtime.
    pub fn next(&self) -> Result<Invocation, String> {
        let mut response = self
            .agent
            .get(format!("{}/invocation/next", self.base))
            .call()
            .map_err(|e| format!("GET /runtime/invocation/next failed: {e}"))?;
        if response.status() != 200 {
            return Err(format!(
                "GET /runtime/invocation/next: {}",
                describe(&mut response)
            ));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let request_id = header("lambda-runtime-aws-request-id")
            .ok_or("the event has no Lambda-Runtime-Aws-Request-Id")?;
        let deadline_ms = header("lambda-runtime-deadline-ms")
            .and_then(|v| v.parse().ok())
            .ok_or("the event has no valid Lambda-Runtime-Deadline-Ms")?;
        let function_arn = header("lambda-runtime-invoked-function-arn").unwrap_or_default();
        let trace_id = header("lambda-runtime-trace-id");
        let invocation_id = header("lambda-runtime-invocation-id");
        let event = response
            .body_mut()
            .with_config()
            .limit(7 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| format!("reading the event failed: {e}"))?;
        Ok(Invocation {
            request_id,
            invocation_id,
            deadline_ms,
            function_arn,
            trace_id,
            event,
        })
    }

    /// SnapStart: `GET /runtime/restore/next` ends Init in place of the
    /// first `next`, and returns (200, empty) once this process has been
    /// restored from the snapshot.
    pub fn restore_next(&self) -> Result<(), String> {
        let mut response = self
            .agent
            .get(format!("{}/restore/next", self.base))
            .call()
            .map_err(|e| format!("GET /runtime/restore/next failed: {e}"))?;
        if response.status() != 200 {
            return Err(format!(
                "GET /runtime/restore/next: {}",
                describe(&mut response)
            ));
        }
        Ok(())
    }

    /// SnapStart: `POST /runtime/restore/error`, an after-restore hook failed.
    pub fn restore_error(&self, error: &RuntimeError) -> Result<(), String> {
        let url = format!("{}/restore/error", self.base);
        self.post_error(&url, None, error)
    }

    /// `POST /runtime/invocation/{id}/response`.
    pub fn respond(&self, invocation: &Invocation, body: &[u8]) -> Result<(), String> {
        let url = format!(
            "{}/invocation/{}/response",
            self.base, invocation.request_id
        );
        let mut request = self
            .agent
            .post(&url)
            .header("content-type", "application/json");
        if let Some(id) = &invocation.invocation_id {
            request = request.header("lambda-runtime-invocation-id", id);
        }
        accepted("POST /response", request.send(body))
    }

    /// `POST /runtime/invocation/{id}/response` in streaming mode: the body
    /// is sent in chunks as `body` produces it (`Transfer-Encoding:
    /// chunked`), and Lambda hands each on to the caller at once.
    pub fn respond_streaming(
        &self,
        invocation: &Invocation,
        content_type: &str,
        body: impl std::io::Read + Send + 'static,
    ) -> Result<(), String> {
        let url = format!(
            "{}/invocation/{}/response",
            self.base, invocation.request_id
        );
        let mut request = self
            .agent
            .post(&url)
            .header("content-type", content_type)
            .header("lambda-runtime-function-response-mode", "streaming");
        if let Some(id) = &invocation.invocation_id {
            request = request.header("lambda-runtime-invocation-id", id);
        }
        accepted(
            "POST /response (streaming)",
            request.send(ureq::SendBody::from_owned_reader(body)),
        )
    }

    /// `POST /runtime/invocation/{id}/error`.
    pub fn fail(&self, invocation: &Invocation, error: &RuntimeError) -> Result<(), String> {
        let url = format!("{}/invocation/{}/error", self.base, invocation.request_id);
        self.post_error(&url, invocation.invocation_id.as_deref(), error)
    }

    /// `POST /runtime/init/error`: the platform answers the first invoke with it.
    pub fn init_error(&self, error: &RuntimeError) -> Result<(), String> {
        let url = format!("{}/init/error", self.base);
        self.post_error(&url, None, error)
    }

    fn post_error(
        &self,
        url: &str,
        invocation_id: Option<&str>,
        error: &RuntimeError,
    ) -> Result<(), String> {
        let body = json!({
            "errorMessage": error.message,
            "errorType": error.error_type,
            "stackTrace": Value::Array(Vec::new()),
        });
        let mut request = self
            .agent
            .post(url)
            .header("content-type", "application/vnd.aws.lambda.error+json")
            .header("lambda-runtime-function-error-type", &error.error_type);
        if let Some(id) = invocation_id {
            request = request.header("lambda-runtime-invocation-id", id);
        }
        accepted("POST error", request.send(body.to_string().as_bytes()))
    }
}

fn accepted(what: &str, response: Result<Response<ureq::Body>, ureq::Error>) -> Result<(), String> {
    match response {
        Ok(r) if r.status() == 202 => Ok(()),
        Ok(mut r) => Err(format!("{what}: {}", describe(&mut r))),
        Err(e) => Err(format!("{what} failed: {e}")),
    }
}

/// The platform's `{errorType, errorMessage}` answer, or the status alone.
fn describe(response: &mut Response<ureq::Body>) -> String {
    let status = response.status();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    format!("{status} {body}")
}
