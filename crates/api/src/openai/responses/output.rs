//! The response object and its output items, shared by whole answers and streams.

use edgellm_backend::{FinishReason, ToolCall, Usage};
use serde_json::{json, Value};

use super::input::ResponsesBody;

/// A response's identity and what it repeats of its request (the spec requires these
/// fields on every response object, streamed or not).
#[derive(Debug, Clone)]
pub struct Head {
    pub id: String,
    pub created_at: u64,
    pub model: String,
    echo: Value,
}

impl Head {
    pub fn new(model: String, req: &ResponsesBody) -> Self {
        let echo = json!({
            "instructions": req.instructions,
            "tools": req.tools.clone().unwrap_or_default(),
            "tool_choice": req.tool_choice.clone().unwrap_or_else(|| json!("auto")),
            "parallel_tool_calls": req.parallel_tool_calls.unwrap_or(true),
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_output_tokens": req.max_output_tokens,
            "metadata": req.metadata.clone().unwrap_or_else(|| json!({})),
            "text": req.text.clone().unwrap_or_else(|| json!({ "format": { "type": "text" } })),
        });
        Self {
            id: new_id("resp"),
            created_at: super::super::now_unix(),
            model,
            echo,
        }
    }

    /// The response object in a given state.
    pub fn response(&self, state: State<'_>) -> Value {
        let mut r = json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": state.status,
            "model": self.model,
            "output": state.output,
            "error": state.error,
            "incomplete_details": state
                .incomplete
                .then(|| json!({ "reason": "max_output_tokens" })),
            "previous_response_id": null,
            "reasoning": { "effort": null, "summary": null },
            "store": false,
            "truncation": "disabled",
        });
        // The spec's `usage` is an object or absent (not null) before the end.
        if let Some(usage) = state.usage {
            r["usage"] = usage_json(usage);
        }
        if state.status == "completed" {
            r["completed_at"] = json!(super::super::now_unix());
        }
        for (k, v) in self.echo.as_object().into_iter().flatten() {
            r[k] = v.clone();
        }
        r
    }
}

/// What changes over a response's life.
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    pub status: &'static str,
    pub output: &'a [Value],
    pub usage: Option<&'a Usage>,
    pub incomplete: bool,
    pub error: Option<&'a Value>,
}

impl<'a> State<'a> {
    /// The state of a finished answer.
    pub fn finished(output: &'a [Value], reason: FinishReason, usage: &'a Usage) -> Self {
        let incomplete = reason == FinishReason::Length;
        Self {
            status: if incomplete {
                "incomplete"
            } else {
                "completed"
            },
            output,
            usage: Some(usage),
            incomplete,
            error: None,
        }
    }
}

/// The Responses API's `usage`: input tokens include the cached ones; those processed were
/// written to the slot's KV cache (`cache_write_tokens`), where the next request finds them.
pub fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.prompt_tokens - usage.cached_tokens.min(usage.prompt_tokens),
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

/// An assistant message item with one `output_text` part.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message", "id": id, "status": status, "role": "assistant",
        "content": [text_part(text)],
    })
}

pub fn text_part(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [], "logprobs": [] })
}

/// A `function_call` item (arguments as a JSON string).
pub fn call_item(id: &str, call_id: &str, call: &ToolCall, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call", "id": id, "call_id": call_id, "name": call.name,
        "arguments": arguments, "status": status,
    })
}

/// An id as the Responses API forms them: `resp_...`, `msg_...`, `fc_...`, `call_...`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Fresh ids for a call item and its `call_id`.
pub fn call_ids() -> (String, String) {
    (new_id("fc"), new_id("call"))
}

/// The output of a whole answer: a message (when there is text, or nothing else), then one
/// `function_call` item per call.
pub fn whole(text: &str, calls: &[ToolCall], reason: FinishReason) -> Vec<Value> {
    let status = match reason {
        FinishReason::Length => "incomplete",
        _ => "completed",
    };
    let mut out = Vec::new();
    if !text.is_empty() || calls.is_empty() {
        out.push(message_item(&new_id("msg"), text, status));
    }
    for c in calls {
        let (id, call_id) = call_ids();
        out.push(call_item(
            &id,
            &call_id,
            c,
            &c.arguments.to_string(),
            "completed",
        ));
    }
    out
}
