//! SnapStart's after-restore hook.
//!
//! With SnapStart, Lambda runs Init once, snapshots the environment, and
//! starts every new environment from that snapshot. Whatever Init read is
//! then shared by all of them, and some of it must not be: credentials
//! above all, which the snapshot holds from before the restore. So after
//! each restore this runtime reads its credentials again, from the
//! endpoint Lambda names in `AWS_CONTAINER_CREDENTIALS_FULL_URI` (SnapStart
//! functions get no access keys in their environment).

use serde_json::Value;

use crate::runtime_api::RuntimeError;

const CREDENTIALS_URI_VAR: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
const CREDENTIALS_TOKEN_VAR: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";

/// Reads fresh credentials, and says (without the secret) what it got.
pub fn after_restore() -> Result<String, RuntimeError> {
    let failed = |message: String| RuntimeError {
        error_type: "Runtime.AfterRestoreError".into(),
        message,
    };
    let uri = std::env::var(CREDENTIALS_URI_VAR)
        .map_err(|_| failed(format!("{CREDENTIALS_URI_VAR} is not set")))?;
    let token = std::env::var(CREDENTIALS_TOKEN_VAR).unwrap_or_default();
    // The token goes as it is, without a scheme such as `Bearer`.
    let mut response = ureq::get(&uri)
        .header("authorization", &token)
        .call()
        .map_err(|e| failed(format!("GET {uri} failed: {e}")))?;
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .map_err(|e| failed(format!("reading the credentials failed: {e}")))?;
    let credentials: Value = serde_json::from_slice(&body)
        .map_err(|e| failed(format!("the credentials are not JSON: {e}")))?;
    let field = |name: &str| credentials[name].as_str().unwrap_or_default().to_string();
    let session = field("Token");
    if field("AccessKeyId").is_empty() || session.is_empty() {
        return Err(failed(
            "the credentials endpoint answered without AccessKeyId or Token".into(),
        ));
    }
    Ok(format!(
        "credentials read again: session token #{}, expiring {}",
        fingerprint(&session),
        field("Expiration")
    ))
}

/// A short number that tells two tokens apart and gives nothing of them
/// away (FNV-1a, five decimal digits).
fn fingerprint(token: &str) -> u32 {
    let hash = token.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % 100_000
}
