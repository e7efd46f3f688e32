//! Reading response bodies with a size cap, so that a misbehaving server or
//! proxy cannot make the client buffer without bound.

/// Largest body the client buffers. The largest legitimate Graph reply we
/// ask for is a messages page with `$expand=replies`: 50 posts with up to
/// 1000 inline replies each, a few KB per message, so on the order of
/// 100 MB. Anything far beyond that is not a Graph page.
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;

pub(crate) enum BodyError {
    /// The connection failed while the body was read.
    Transport(reqwest::Error),
    /// The body is (or announces itself as) longer than the cap.
    TooLarge,
}

/// Reads the whole body, or stops as soon as it would exceed `max` bytes.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    // Trust a Content-Length only up to 1 MiB for the first allocation: it
    // comes from the network.
    let mut buf = Vec::with_capacity(announced.unwrap_or(0).min(1 << 20) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if buf.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one response per connection: a chunked body (no
    /// Content-Length) of `len` bytes, so the cap is hit while streaming.
    async fn serve(len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req).await;
                let body = "x".repeat(len);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{len:x}\r\n{body}\r\n0\r\n\r\n"
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn body_over_the_cap_is_refused() {
        let url = serve(100).await;
        let http = reqwest::Client::new();
        let resp = http.get(&url).send().await.unwrap();
        assert!(matches!(
            read_capped(resp, 99).await,
            Err(BodyError::TooLarge)
        ));
        let resp = http.get(&url).send().await.unwrap();
        match read_capped(resp, 100).await {
            Ok(b) => assert_eq!(b.len(), 100),
            Err(_) => panic!("a body at the cap is read whole"),
        }
    }
}
