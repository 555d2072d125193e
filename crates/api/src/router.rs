//! Every route in one place, with the layers each group gets:
//!
//! | group | routes | API key | rate limit |
//! |---|---|---|---|
//! | probes and page | `/healthz`, `/readyz`, `/` (chat page; it asks for the key itself) | never | never |
//! | metrics | `/metrics`, `/status` (JSON; its page loads without a key) | unless `metrics_public` | never |
//! | api | `/v1/*` (OpenAI, Anthropic's `/v1/messages`), `/api/*` (Ollama), `/tokenize`, `/apply-template`, `/infill`, `/props`, unknown routes | yes | yes |
//!
//! Generating routes are refused while draining or too hot (`guard::admission`) and, with
//! `/tokenize` and `/apply-template`, hold a per-client slot (`--max-client-requests`). Every route is
//! observed (request id, log line, metrics), refuses foreign browser origins, and errors
//! under `/api/` take Ollama's shape, under `/v1/messages` Anthropic's.

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state, map_request};
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::guard::{admission, clients, keys, observe, origin, ratelimit};
use crate::state::AppState;
use crate::{anthropic, extra, health, ollama, openai, status, web};

/// The API router. Transport concerns (TLS, connection limits) live in the daemon.
pub fn router(state: AppState) -> Router {
    let limit = state.limits.max_body_bytes;
    // Generations and embeddings are refused while draining or too hot; they, and the other
    // work the engine's threads do, hold a per-client slot until their answer ends.
    let generating = Router::new()
        .route("/v1/chat/completions", post(openai::chat::handler))
        .route("/v1/completions", post(openai::completions::handler))
        .route("/api/generate", post(ollama::generate::handler))
        .route("/api/chat", post(ollama::chat::handler))
        .route("/v1/embeddings", post(openai::embeddings::handler))
        .route("/api/embed", post(ollama::embed::embed))
        .route("/api/embeddings", post(ollama::embed::embeddings))
        .route("/v1/responses", post(openai::responses::handler))
        .route("/infill", post(extra::infill::handler))
        .route("/v1/messages", post(anthropic::messages::handler))
        .layer(from_fn_with_state(state.clone(), admission::admit))
        // Tokenising and rendering take the preparation threads as a generation does.
        .route("/tokenize", post(extra::tokenize::tokenize))
        .route("/apply-template", post(extra::tokenize::apply_template))
        .route(
            "/v1/messages/count_tokens",
            post(anthropic::count_tokens::handler),
        )
        .layer(from_fn_with_state(state.clone(), clients::limit));
    let mut api = Router::new()
        .merge(generating)
        .route("/v1/models", get(openai::models::list))
        .route("/v1/models/{id}", get(openai::models::get))
        .route("/api/tags", get(ollama::models::tags))
        .route("/api/show", post(ollama::models::show))
        .route("/api/ps", get(ollama::models::ps))
        .route("/api/version", get(ollama::models::version))
        .route("/api/pull", post(ollama::pull::handler))
        .route("/props", get(extra::props::props))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), keys::require_key));
    if let Some(governor) = ratelimit::layer(&state) {
        api = api.layer(governor);
    }
    let mut metrics = Router::new().route("/metrics", get(health::metrics));
    if !state.access.metrics_public {
        metrics = metrics.layer(from_fn_with_state(state.clone(), keys::require_key));
    }
    let status = Router::new()
        .route("/status", get(status::status))
        .layer(from_fn_with_state(state.clone(), status::guard));
    let probes = Router::new()
        .route("/", get(web::index))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    let mut app = probes
        .merge(metrics)
        .merge(status)
        .merge(api)
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(state.clone(), origin::check))
        .layer(from_fn(ollama::error_shape))
        .layer(from_fn(anthropic::error_shape));
    if let Some(cors) = origin::cors_layer(&state.access.cors_origins) {
        app = app.layer(cors);
    }
    app.layer(from_fn_with_state(state.clone(), node_header))
        .layer(from_fn_with_state(state.clone(), observe::observe))
        .layer(map_request(keep_matched_path))
        .with_state(state)
}

/// Identity; present so `MatchedPath` is set before the observe layer runs.
async fn keep_matched_path(req: Request) -> Request {
    req
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
    }
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
    }
}

/// Every response names the board that gave it (`x-edgellm-node`), for clients behind a
/// load balancer.
async fn node_header(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(req).await;
    if !state.node.is_empty() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&state.node) {
            response.headers_mut().insert("x-edgellm-node", v);
        }
    }
    response
}
