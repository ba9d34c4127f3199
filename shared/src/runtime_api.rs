//! Addressing the Runtime API.
//!
//! Lambda sets `AWS_LAMBDA_RUNTIME_API` to a bare `host:port`, such as
//! `127.0.0.1:9001`. Other tools (`cargo lambda watch`) set a URL with a scheme
//! and a path prefix, such as `http://[::]:9000/.rt`. Code that builds API URLs
//! by hand must accept both, so it goes through [`base_url`].

/// The environment variable the platform sets for the runtime and extensions.
pub const RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";

/// The URL to which `/2018-06-01/...` and `/2020-01-01/...` paths are appended,
/// with no trailing slash.
///
/// ```
/// use shared::runtime_api::base_url;
/// assert_eq!(base_url("127.0.0.1:9001").unwrap(), "http://127.0.0.1:9001");
/// assert_eq!(base_url("http://[::]:9000/.rt/").unwrap(), "http://[::]:9000/.rt");
/// ```
pub fn base_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(format!(
            "{RUNTIME_API_VAR} is empty: it must be host:port, such as 127.0.0.1:9001"
        ));
    }
    let url = if value.starts_with("http://") || value.starts_with("https://") {
        value.to_string()
    } else if value.contains("://") {
        return Err(format!(
            "{RUNTIME_API_VAR}={value:?} uses a scheme other than http: the Runtime API is plain HTTP"
        ));
    } else {
        format!("http://{value}")
    };
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_host_port_and_prefixed_urls() {
        assert_eq!(base_url("localhost:9001").unwrap(), "http://localhost:9001");
        assert_eq!(
            base_url("http://127.0.0.1:9000/.rt").unwrap(),
            "http://127.0.0.1:9000/.rt"
        );
    }

    #[test]
    fn rejects_empty_and_foreign_schemes() {
        assert!(base_url(" ").unwrap_err().contains("host:port"));
        assert!(base_url("ftp://x:1").unwrap_err().contains("plain HTTP"));
    }
}
