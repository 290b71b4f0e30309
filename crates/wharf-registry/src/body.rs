//! Reading small response bodies (manifests, tokens, error documents)
//! with a size limit, so a hostile registry cannot make Wharf buffer
//! without bound.

use crate::error::RegistryError;
use futures_util::StreamExt;
use reqwest::Response;

/// Reads a whole (small) response body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    resp: Response,
    limit: usize,
    method: &str,
    url: &str,
) -> Result<Vec<u8>, RegistryError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(RegistryError::BadResponse {
            what: "response".into(),
            url: url.to_string(),
            reason: format!("it is larger than the {limit}-byte limit"),
        });
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| RegistryError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            reason: format!("reading the response: {}", e.without_url()),
        })?;
        if out.len() + chunk.len() > limit {
            return Err(RegistryError::BadResponse {
                what: "response".into(),
                url: url.to_string(),
                reason: format!("it is larger than the {limit}-byte limit"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
