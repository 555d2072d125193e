//! `POST /api/chat`, with `tools` (answers carry `message.tool_calls`, arguments as
//! objects) and `format`. Home Assistant's other fields are accepted: `keep_alive` (the
//! model of an appliance stays loaded, so it is ignored), `think` (Qwen2.5 does not think;
//! ignored) and `options.num_ctx` (the context is the daemon's `--ctx-size`, shared by all
//! requests; `/api/show` reports it).

use axum::extract::State;
use axum::response::Response;
use edgellm_backend::{GenerateRequest, Prompt};
use serde::Deserialize;
use serde_json::json;

use super::options::OllamaCommon;
use super::{now_rfc3339, respond};
use crate::error::ApiError;
use crate::generation;
use crate::json::JsonBody;
use crate::request::messages::{to_messages, Message};
use crate::request::tools::ToolFields;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct ChatBody {
    messages: Vec<Message>,
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let req: ChatBody = body.parse()?;
    let common: OllamaCommon = body.parse()?;
    let params = common.sampling(state.limits.max_tokens_cap)?;
    let tools = body.parse::<ToolFields>()?.to_tools()?;
    let messages = to_messages(req.messages)?;
    let model = state
        .backend
        .model()
        .map(|m| super::name::tagged(&m.id))
        .unwrap_or_default();
    let events = generation::start(
        &state,
        GenerateRequest {
            prompt: Prompt::Chat(messages),
            params,
            tools,
        },
    )
    .await?;
    let line = move |content: &str| {
        json!({
            "model": model, "created_at": now_rfc3339(),
            "message": { "role": "assistant", "content": content }, "done": false,
        })
    };
    respond(&state, events, common.stream, line).await
}
