//! One error type for the HTTP layer, one status table, OpenAI's error JSON.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use edgellm_backend::BackendError;
use serde_json::json;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON or a parameter out of range; `param` names the field.
    #[error("{message}")]
    InvalidRequest {
        param: Option<String>,
        message: String,
    },
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body did not arrive within {seconds} s")]
    BodyTimeout { seconds: u64 },
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    /// A model name this device does not serve (Ollama's own wording, then `hint`).
    #[error("model '{name}' not found{hint}")]
    ModelNotFound { name: String, hint: String },
    #[error("method {method} is not allowed for {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("missing or invalid API key; send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'")]
    Unauthorized,
    #[error("rate limit exceeded for your address; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("too many requests in flight from your address (at most {limit} at once); wait for one to finish")]
    TooManyInFlight { limit: usize },
    #[error("cross-origin request from {origin} refused; allow it with --cors-origin {origin}")]
    CrossOrigin { origin: String },
    #[error("{message}")]
    Unavailable {
        message: &'static str,
        retry_after: u64,
    },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl ApiError {
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            param: Some(param.into()),
            message: message.into(),
        }
    }

    /// The status table: every error's HTTP status, OpenAI `type` and `code`.
    pub fn status(&self) -> (StatusCode, &'static str, Option<&'static str>) {
        match self {
            ApiError::InvalidRequest { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", None)
            }
            ApiError::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                Some("payload_too_large"),
            ),
            ApiError::BodyTimeout { .. } => (
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                Some("body_timeout"),
            ),
            ApiError::NotFound { .. } => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("not_found"),
            ),
            ApiError::ModelNotFound { .. } => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("model_not_found"),
            ),
            ApiError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                Some("method_not_allowed"),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                Some("invalid_api_key"),
            ),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("rate_limit_exceeded"),
            ),
            ApiError::TooManyInFlight { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("too_many_concurrent_requests"),
            ),
            ApiError::CrossOrigin { .. } => (
                StatusCode::FORBIDDEN,
                "permission_error",
                Some("cross_origin_refused"),
            ),
            ApiError::Unavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_unavailable",
                Some("unavailable"),
            ),
            ApiError::Backend(e) => match e {
                BackendError::ContextOverflow { .. } => (
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("context_length_exceeded"),
                ),
                BackendError::InvalidRequest(_) => {
                    (StatusCode::BAD_REQUEST, "invalid_request_error", None)
                }
                BackendError::Overloaded { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_overloaded",
                    Some("overloaded"),
                ),
                BackendError::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_unavailable",
                    Some("unavailable"),
                ),
                BackendError::Internal(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None)
                }
            },
        }
    }

    /// Seconds a client should wait before retrying, for 429s and 503s.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after } | ApiError::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            ApiError::Backend(BackendError::Overloaded {
                retry_after_secs, ..
            }) => Some(*retry_after_secs),
            ApiError::Backend(BackendError::Unavailable(_)) => Some(5),
            ApiError::TooManyInFlight { .. } => Some(1),
            _ => None,
        }
    }

    /// OpenAI's error object (`{"error": {...}}`), also used in-band in SSE streams.
    pub fn body(&self) -> serde_json::Value {
        let (_, kind, code) = self.status();
        let param = match self {
            ApiError::InvalidRequest { param, .. } => param.clone(),
            _ => None,
        };
        let mut error = json!({
            "message": self.to_string(),
            "type": kind,
            "param": param,
            "code": code,
        });
        if let ApiError::Backend(BackendError::ContextOverflow {
            prompt_tokens,
            limit,
        }) = self
        {
            error["n_prompt_tokens"] = json!(prompt_tokens);
            error["n_ctx"] = json!(limit);
        }
        json!({ "error": error })
    }
}

/// Carried by every error response: what the error says, for the layers that show errors
/// in another dialect's shape (`/api/*`: [`crate::ollama::error_shape`]; `/v1/messages*`:
/// [`crate::anthropic::error_shape`]).
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _, _) = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        response
            .extensions_mut()
            .insert(ErrorMessage(self.to_string()));
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// For a dialect's error layer: run the request and, when it is one of `ours` and its answer
/// is an [`ApiError`], give the body `shape(status, message)`, status and headers kept. The
/// handlers' errors and those of the layers around them (key check, rate limiter, fallbacks,
/// body limit, admission) all carry their message, so nothing is buffered or parsed again.
pub(crate) async fn reshape(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    ours: fn(&str) -> bool,
    shape: fn(StatusCode, &str) -> serde_json::Value,
) -> Response {
    let mine = ours(req.uri().path());
    let mut response = next.run(req).await;
    if !mine {
        return response;
    }
    let Some(ErrorMessage(message)) = response.extensions_mut().remove::<ErrorMessage>() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = shape(parts.status, &message);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}
