//! The async HTTP client.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url, header};
use serde::de::DeserializeOwned;
use urbis_core::{Address, Hash, SignedTx};
use urbis_runtime::Genesis;

use crate::api::{
    BlockId, BlockResponse, CommittedTx, EventQuery, ListResult, NodeStatus, NonceInfo,
    QueryResult, SearchResult, SubmitResult, TxStatus,
};
use crate::error::{ClientError, api_error};

/// Longest the node waits with `?wait=true`, plus headroom.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Transactions per block page requested by [`Client::block`].
const MAX_BLOCK_PAGE: usize = 1_000;
/// Largest response body read (a full block is at most 8 MiB of borsh; JSON is larger).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A client of one node's HTTP API. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
}

impl Client {
    /// A client for the node at `base_url`, e.g. `http://127.0.0.1:8545`.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("urbis-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Self::with_http(base_url, http)
    }

    /// A client using a preconfigured `reqwest::Client` (timeouts, proxies, …).
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let base = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.cannot_be_a_base() || base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("expected a base URL such as http://127.0.0.1:8545"));
        }
        Ok(Client { base, http })
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<NodeStatus, ClientError> {
        self.get(&["v1", "status"], &[]).await
    }

    /// `GET /v1/modules` (`name`: `GET /v1/modules/{name}`): the modules' calls with their
    /// JSON Schemas, queries, events and exported operations.
    pub async fn modules(&self, name: Option<&str>) -> Result<serde_json::Value, ClientError> {
        match name {
            Some(n) => self.get(&["v1", "modules", n], &[]).await,
            None => self.get(&["v1", "modules"], &[]).await,
        }
    }

    /// `POST /v1/txs`: hand a transaction to the mempool and return at once.
    pub async fn submit(&self, tx: &SignedTx) -> Result<SubmitResult, ClientError> {
        self.post_tx(Body::Json(tx), false).await
    }

    /// `POST /v1/txs?wait=true`: submit and wait (up to 30 s on the node) until executed.
    /// A transaction not executed in time is [`ClientError::Api`] with code `timeout`.
    pub async fn submit_and_wait(&self, tx: &SignedTx) -> Result<CommittedTx, ClientError> {
        let status = self.post_tx(Body::Json(tx), true).await?;
        committed(status)
    }

    /// `POST /v1/txs` with the raw borsh encoding (`application/octet-stream`).
    pub async fn submit_raw(&self, bytes: Vec<u8>) -> Result<SubmitResult, ClientError> {
        self.post_tx(Body::Raw(bytes), false).await
    }

    /// Like [`Client::submit_raw`], waiting for execution.
    pub async fn submit_raw_and_wait(&self, bytes: Vec<u8>) -> Result<CommittedTx, ClientError> {
        let status = self.post_tx(Body::Raw(bytes), true).await?;
        committed(status)
    }

    /// `POST /v1/txs/batch` with already-encoded transactions (each the borsh of a `SignedTx`):
    /// one result per transaction, `Ok(hash)` or `Err((code, message))`.
    pub async fn submit_batch_raw(
        &self,
        encoded: &[&[u8]],
    ) -> Result<Vec<Result<Hash, (String, String)>>, ClientError> {
        // A borsh Vec is a u32 little-endian length followed by the elements.
        let len = u32::try_from(encoded.len())
            .map_err(|_| ClientError::Decode("batch too large".into()))?;
        let mut body = Vec::with_capacity(4 + encoded.iter().map(|e| e.len()).sum::<usize>());
        body.extend_from_slice(&len.to_le_bytes());
        for e in encoded {
            body.extend_from_slice(e);
        }
        let url = self.url(&["v1", "txs", "batch"], &[])?;
        let req = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        let answer: BatchAnswer = decode_response(req.send().await?).await?;
        Ok(answer
            .results
            .into_iter()
            .map(|r| match (r.hash, r.error) {
                (Some(h), _) => Ok(h),
                (None, Some(e)) => Err((e.code, e.message)),
                (None, None) => Err(("malformed".into(), "empty result".into())),
            })
            .collect())
    }

    /// `POST /v1/txs/batch`.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTx],
    ) -> Result<Vec<Result<Hash, (String, String)>>, ClientError> {
        let encoded: Vec<Vec<u8>> = txs.iter().map(SignedTx::encode).collect();
        let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        self.submit_batch_raw(&refs).await
    }

    /// `GET /v1/txs/{hash}`; an unknown transaction is `not_found`.
    pub async fn tx(&self, hash: &Hash) -> Result<TxStatus, ClientError> {
        self.get(&["v1", "txs", &hash.to_hex()], &[]).await
    }

    /// `GET /v1/txs/{hash}?prove=true`: the committed transaction with its receipt bundle
    /// (check it with [`crate::verify_receipt`]).
    pub async fn tx_proven(&self, hash: &Hash) -> Result<CommittedTx, ClientError> {
        match self
            .get(&["v1", "txs", &hash.to_hex()], &[("prove", "true")])
            .await?
        {
            TxStatus::Committed(c) => Ok(c),
            TxStatus::Pending { hash } => Err(ClientError::Decode(format!(
                "{hash} is still pending; a receipt can be proven once it is committed"
            ))),
        }
    }

    /// `GET /v1/blocks/{id}`, every page: the whole block with all its receipts.
    pub async fn block(&self, id: BlockId) -> Result<BlockResponse, ClientError> {
        let mut block = self.block_page(id, None, MAX_BLOCK_PAGE).await?;
        // Later pages by hash, so that `latest` cannot move under us.
        let by_hash = BlockId::Hash(block.hash);
        while let Some(cursor) = block.next_cursor.take() {
            let page = self
                .block_page(by_hash, Some(&cursor), MAX_BLOCK_PAGE)
                .await?;
            if page.hash != block.hash || page.txs.is_empty() {
                return Err(ClientError::Decode(format!(
                    "block page at cursor {cursor} does not continue block {}",
                    block.hash
                )));
            }
            block.txs.extend(page.txs);
            block.receipts.extend(page.receipts);
            block.next_cursor = page.next_cursor;
        }
        Ok(block)
    }

    /// One page of `GET /v1/blocks/{id}`: at most `limit` (1 to 1000) transactions from
    /// `cursor` (the previous page's `next_cursor`; `None` for the first).
    pub async fn block_page(
        &self,
        id: BlockId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<BlockResponse, ClientError> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        self.get(&["v1", "blocks", &id.to_string()], &query).await
    }

    /// `GET /v1/query/{module}/{path…}?prove=…`, e.g. `query("rewards", &["balance", addr], true)`.
    ///
    /// Without `prove`, an absent value is `not_found`; with it, the answer has a `null` value
    /// and a proof of absence.
    pub async fn query(
        &self,
        module: &str,
        path: &[&str],
        prove: bool,
    ) -> Result<QueryResult, ClientError> {
        let mut segments = vec!["v1", "query", module];
        segments.extend_from_slice(path);
        let prove = if prove { "true" } else { "false" };
        self.get(&segments, &[("prove", prove)]).await
    }

    /// One page of a list query, e.g. `query_list("rewards", &["programs"], 100, None)`.
    pub async fn query_list(
        &self,
        module: &str,
        path: &[&str],
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListResult, ClientError> {
        let mut segments = vec!["v1", "query", module];
        segments.extend_from_slice(path);
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        self.get(&segments, &query).await
    }

    /// Every item of a list query, page after page (1,000 a page).
    pub async fn query_list_all(
        &self,
        module: &str,
        path: &[&str],
    ) -> Result<Vec<serde_json::Value>, ClientError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .query_list(module, path, 1_000, cursor.as_deref())
                .await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(items),
            }
        }
    }

    /// `GET /1.0/identifiers/{did}` (DID resolution): the resolution result. A deactivated
    /// DID (HTTP 410) is a result too (`didDocumentMetadata.deactivated`); resolution errors
    /// (`invalidDid`, `notFound`, …) are [`ClientError::Api`] with that error as code.
    pub async fn resolve_did(
        &self,
        did: &str,
        version_id: Option<u64>,
        version_time: Option<&str>,
        prove: bool,
    ) -> Result<serde_json::Value, ClientError> {
        let v = version_id.map(|v| v.to_string());
        let mut query = Vec::new();
        if let Some(v) = &v {
            query.push(("versionId", v.as_str()));
        }
        if let Some(t) = version_time {
            query.push(("versionTime", t));
        }
        if prove {
            query.push(("prove", "true"));
        }
        let url = self.url(&["1.0", "identifiers", did], &query)?;
        let mut resp = self.http.request(Method::GET, url).send().await?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ClientError::Decode("resolution result too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            ClientError::Decode(format!("not a resolution result (HTTP {status}): {e}"))
        })?;
        if status.is_success() || status == StatusCode::GONE {
            return Ok(json);
        }
        let meta = &json["didResolutionMetadata"];
        match meta["error"].as_str() {
            Some(code) => Err(ClientError::Api {
                status: status.as_u16(),
                code: crate::error::ApiCode::parse(code),
                detail: meta["errorMessage"].as_str().unwrap_or(code).to_string(),
            }),
            None => Err(api_error(status.as_u16(), &body)),
        }
    }

    /// `GET /v1/status-lists/{id}` (`?idx=N&prove=…`).
    pub async fn status_list(
        &self,
        id: u64,
        idx: Option<u64>,
        prove: bool,
    ) -> Result<serde_json::Value, ClientError> {
        let idx = idx.map(|i| i.to_string());
        let mut query = Vec::new();
        if let Some(i) = &idx {
            query.push(("idx", i.as_str()));
        }
        if prove {
            query.push(("prove", "true"));
        }
        self.get(&["v1", "status-lists", &id.to_string()], &query)
            .await
    }

    /// `GET /v1/events/search`: one page of indexed events matching `q`.
    pub async fn search_events(&self, q: &EventQuery) -> Result<SearchResult, ClientError> {
        let params: Vec<(String, String)> = serde_json::to_value(q)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.get(&["v1", "events", "search"], &pairs).await
    }

    /// `GET /v1/nonce/{address}`: committed and next (mempool-aware) nonce.
    pub async fn nonce(&self, addr: &Address) -> Result<NonceInfo, ClientError> {
        self.get(&["v1", "nonce", &addr.to_string()], &[]).await
    }

    /// The nonce the next transaction of `addr` should use, counting pending ones.
    pub async fn next_nonce(&self, addr: &Address) -> Result<u64, ClientError> {
        Ok(self.nonce(addr).await?.next_nonce)
    }

    /// `GET /v1/genesis`. Trusting this means trusting the node: verify proofs against a
    /// genesis file obtained independently when it matters.
    pub async fn genesis(&self) -> Result<Genesis, ClientError> {
        self.get(&["v1", "genesis"], &[]).await
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ClientError::InvalidUrl {
                    url: self.base.to_string(),
                    reason: "cannot be a base".into(),
                })?;
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let url = self.url(segments, query)?;
        let resp = self.http.request(Method::GET, url).send().await?;
        decode_response(resp).await
    }

    async fn post_tx(&self, body: Body<'_>, wait: bool) -> Result<TxStatus, ClientError> {
        let query: &[(&str, &str)] = if wait { &[("wait", "true")] } else { &[] };
        let url = self.url(&["v1", "txs"], query)?;
        let req = self.http.post(url);
        let req = match body {
            Body::Json(tx) => req.json(tx),
            Body::Raw(bytes) => req
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
        };
        decode_response(req.send().await?).await
    }
}

#[derive(serde::Deserialize)]
struct BatchAnswer {
    results: Vec<BatchResult>,
}

#[derive(serde::Deserialize)]
struct BatchResult {
    hash: Option<Hash>,
    error: Option<BatchError>,
}

#[derive(serde::Deserialize)]
struct BatchError {
    code: String,
    message: String,
}

enum Body<'a> {
    Json(&'a SignedTx),
    Raw(Vec<u8>),
}

fn committed(status: TxStatus) -> Result<CommittedTx, ClientError> {
    match status {
        TxStatus::Committed(c) => Ok(c),
        TxStatus::Pending { hash } => Err(ClientError::Decode(format!(
            "asked to wait, but the node answered that {hash} is still pending"
        ))),
    }
}

async fn decode_response<T: DeserializeOwned>(
    mut resp: reqwest::Response,
) -> Result<T, ClientError> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ClientError::Decode(format!(
                "response body exceeds {MAX_BODY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    decode_body(status, &body)
}

/// Decode a response: a success body as `T`, anything else as an API error.
pub(crate) fn decode_body<T: DeserializeOwned>(
    status: StatusCode,
    body: &[u8],
) -> Result<T, ClientError> {
    if !status.is_success() {
        return Err(api_error(status.as_u16(), body));
    }
    serde_json::from_slice(body).map_err(|e| {
        ClientError::Decode(format!(
            "unexpected answer ({} bytes, HTTP {}): {e}",
            body.len(),
            status.as_u16()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use urbis_core::ErrorCode;

    #[test]
    fn urls_are_built_and_escaped() {
        let c = Client::new("http://127.0.0.1:8545").expect("valid");
        let u = c
            .url(&["v1", "query", "rewards", "a b/c"], &[("prove", "true")])
            .expect("url");
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8545/v1/query/rewards/a%20b%2Fc?prove=true"
        );
        let c = Client::new("http://node.example:80/api/").expect("valid");
        let u = c.url(&["v1", "status"], &[]).expect("url");
        assert_eq!(u.as_str(), "http://node.example/api/v1/status");

        assert!(Client::new("ftp://x").is_err());
        assert!(Client::new("not a url").is_err());
        assert!(Client::new("http://x/?a=b").is_err());
    }

    #[test]
    fn success_and_error_bodies() {
        let ok: Result<serde_json::Value, _> = decode_body(StatusCode::OK, br#"{"a":1}"#);
        assert_eq!(ok.expect("decodes")["a"], 1);

        let err = decode_body::<serde_json::Value>(
            StatusCode::NOT_FOUND,
            br#"{"type":"https://urbis.city/errors/not_found","title":"Not found","status":404,"code":"not_found","detail":"no such tx"}"#,
        )
        .expect_err("404");
        assert!(err.is(ErrorCode::NotFound));
        assert_eq!(err.to_string(), "not_found: no such tx");

        let err = decode_body::<NodeStatus>(StatusCode::OK, b"{}").expect_err("missing fields");
        assert!(matches!(err, ClientError::Decode(_)), "{err:?}");
    }

    /// One request against a canned HTTP response over a real socket.
    async fn serve_once(status_line: &str, content_type: &str, body: &str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let response = format!(
            "HTTP/1.1 {status_line}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        tokio::spawn(async move {
            if let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn problem_json_over_http() {
        let url = serve_once(
            "400 Bad Request",
            "application/problem+json",
            r#"{"type":"https://urbis.city/errors/nonce_too_low","title":"Nonce already used","status":400,"code":"nonce_too_low","detail":"nonce 0 already used; next is 1"}"#,
        )
        .await;
        let client = Client::new(&url).expect("client");
        let key = urbis_core::SecretKey::from_label("a");
        let tx = SignedTx::new(
            &urbis_core::ChainRef::new("c", urbis_core::Hash::ZERO),
            &key,
            0,
            urbis_core::Call::new("m", &1u8),
        );
        match client.submit(&tx).await {
            Err(ClientError::Api {
                status,
                code,
                detail,
            }) => {
                assert_eq!(status, 400);
                assert_eq!(code, ErrorCode::NonceTooLow);
                assert_eq!(detail, "nonce 0 already used; next is 1");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn pending_submit_over_http() {
        let h = urbis_core::sha256_domain(b"t", &[b"x"]);
        let body = format!(r#"{{"hash":"{h}","status":"pending"}}"#);
        let url = serve_once("202 Accepted", "application/json", &body).await;
        let client = Client::new(&url).expect("client");
        let key = urbis_core::SecretKey::from_label("a");
        let tx = SignedTx::new(
            &urbis_core::ChainRef::new("c", urbis_core::Hash::ZERO),
            &key,
            0,
            urbis_core::Call::new("m", &1u8),
        );
        let res = client.submit(&tx).await.expect("accepted");
        assert_eq!(res, TxStatus::Pending { hash: h });
    }

    #[tokio::test]
    async fn connection_refused_is_http_error() {
        // Bind then drop to get a port that is (very likely) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let client = Client::new(&format!("http://127.0.0.1:{port}")).expect("client");
        let err = client.status().await.expect_err("refused");
        assert!(matches!(err, ClientError::Http(_)), "{err:?}");
        assert!(err.to_string().starts_with("http: "), "{err}");
    }
}
