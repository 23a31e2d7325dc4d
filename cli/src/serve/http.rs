//! OTLP/HTTP: `POST /v1/traces` in protobuf or JSON (by `Content-Type`),
//! plain or gzip (by `Content-Encoding`), answered in the request's own
//! encoding once its spans are committed. `/v1/metrics` and `/v1/logs`
//! answer success and drop what they get, so SDKs that send every signal
//! log no errors.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::body::{self, BodyError};
use super::receiver::{Receiver, Refusal, Signal, RETRY_AFTER_SECONDS};

/// `google.rpc.Status`, the body of every OTLP/HTTP error response.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    /// A `google.rpc.Code`.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// What was wrong, for people.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// `google.rpc.Code` values used here.
mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAVAILABLE: i32 = 14;
}

/// The two encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From `Content-Type`, ignoring parameters and case; `None` for any other.
    fn of(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let media = value.split(';').next()?.trim();
        if media.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        })
    }

    /// A message in this encoding.
    fn body<M: Message + serde::Serialize>(self, message: &M) -> Vec<u8> {
        match self {
            Encoding::Protobuf => message.encode_to_vec(),
            // Serializing these generated types cannot fail.
            Encoding::Json => serde_json::to_vec(message).unwrap_or_default(),
        }
    }

    fn respond<M: Message + serde::Serialize>(self, status: StatusCode, message: &M) -> Response {
        let mut response = (status, self.body(message)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, self.content_type());
        response
    }

    fn error(self, status: StatusCode, code: i32, message: impl Into<String>) -> Response {
        self.respond(
            status,
            &RpcStatus {
                code,
                message: message.into(),
            },
        )
    }

    fn decode(self, bytes: &[u8]) -> Result<ExportTraceServiceRequest, String> {
        match self {
            Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes)
                .map_err(|e| format!("the body is not an OTLP protobuf trace request: {e}")),
            Encoding::Json => serde_json::from_slice(bytes)
                .map_err(|e| format!("the body is not an OTLP/JSON trace request: {e}")),
        }
    }
}

/// The OTLP/HTTP routes.
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .with_state(receiver)
}

/// A `503` that OTLP clients retry after `Retry-After`.
fn busy(encoding: Encoding, Refusal::Busy(why): Refusal) -> Response {
    let mut response = encoding.error(StatusCode::SERVICE_UNAVAILABLE, code::UNAVAILABLE, why);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

/// The body, read within the limit and inflated when it is gzip.
async fn read_body(
    encoding: Encoding,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, Response> {
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(encoding.error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::INVALID_ARGUMENT,
                format!("Content-Encoding {other:?} is not supported: send gzip or none"),
            ))
        }
    };
    let refuse = |error| body_error(encoding, error);
    let raw = body::read(body, limit).await.map_err(refuse)?;
    if !gzip {
        return Ok(raw);
    }
    // Inflating up to the limit is CPU work: off the threads that serve
    // connections.
    tokio::task::spawn_blocking(move || body::gunzip(&raw, limit))
        .await
        .map_err(|e| refuse(BodyError::Broken(e.to_string())))?
        .map_err(refuse)
}

fn body_error(encoding: Encoding, error: BodyError) -> Response {
    match error {
        BodyError::TooLarge(limit) => encoding.error(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::RESOURCE_EXHAUSTED,
            format!(
                "the body is larger than {limit} bytes (after decompression); send smaller batches"
            ),
        ),
        BodyError::Broken(why) => {
            encoding.error(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, why)
        }
    }
}

async fn traces(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Body) -> Response {
    let Some(encoding) = Encoding::of(&headers) else {
        receiver.refused();
        return Encoding::Protobuf.error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::INVALID_ARGUMENT,
            "Content-Type must be application/x-protobuf or application/json",
        );
    };
    let permit = match receiver.permit().await {
        Ok(permit) => permit,
        Err(refusal) => return busy(encoding, refusal),
    };
    let bytes = match read_body(encoding, &headers, body, receiver.body_limit).await {
        Ok(bytes) => bytes,
        Err(response) => {
            receiver.refused();
            return response;
        }
    };
    let decoded = tokio::task::spawn_blocking(move || encoding.decode(&bytes)).await;
    let request = match decoded {
        Ok(Ok(request)) => request,
        Ok(Err(why)) => {
            receiver.refused();
            return encoding.error(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, why);
        }
        Err(e) => {
            receiver.refused();
            return encoding.error(
                StatusCode::BAD_REQUEST,
                code::INVALID_ARGUMENT,
                format!("the body could not be decoded: {e}"),
            );
        }
    };
    match receiver.take(request, permit).await {
        Ok(accepted) => {
            let partial_success = (accepted.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: accepted.rejected,
                error_message: accepted.message.unwrap_or_default(),
            });
            encoding.respond(
                StatusCode::OK,
                &ExportTraceServiceResponse { partial_success },
            )
        }
        Err(refusal) => busy(encoding, refusal),
    }
}

/// Reads the body (within the limit, so the connection can be reused) and
/// answers with an empty export response, which every signal's response
/// type encodes the same way.
async fn dropped(receiver: &Receiver, signal: Signal, headers: &HeaderMap, body: Body) -> Response {
    receiver.dropping(signal);
    let encoding = Encoding::of(headers).unwrap_or(Encoding::Protobuf);
    // What the body holds does not matter: it is dropped either way.
    let _ = body::read(body, receiver.body_limit).await;
    encoding.respond(StatusCode::OK, &ExportTraceServiceResponse::default())
}

async fn metrics(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    dropped(&receiver, Signal::Metrics, &headers, body).await
}

async fn logs(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Body) -> Response {
    dropped(&receiver, Signal::Logs, &headers, body).await
}
