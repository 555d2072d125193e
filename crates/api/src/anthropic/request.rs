//! A Messages request mapped into the neutral request: `system` and the content blocks become
//! chat messages, `tools` / `tool_choice` become tool definitions, `max_tokens`,
//! `stop_sequences`, `temperature`, `top_p`, `top_k` become sampling parameters. Errors name
//! the field as the client sent it.

use std::collections::HashMap;

use edgellm_backend::{ChatMessage, SamplingParams, Tools};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::request::sampling::{Field, Sampling};
use crate::request::tools::{history_call, ToolFields};

/// The fields of a Messages request (and of `count_tokens`, which has no sampling).
#[derive(Debug, Deserialize)]
pub struct MessagesBody {
    pub messages: Vec<InMessage>,
    #[serde(default)]
    pub system: Option<Text>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
}

/// Sampling and streaming fields.
#[derive(Debug, Deserialize)]
pub struct MessagesParams {
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::json::null_as_default")]
    pub stream: bool,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i64>,
    /// Extended thinking: this model does not think, so asking for it is refused.
    #[serde(default)]
    pub thinking: Option<Value>,
}

/// `system` or a message's `content`: a string or content blocks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Plain(String),
    Blocks(Vec<Value>),
}

#[derive(Debug, Deserialize)]
pub struct InMessage {
    pub role: String,
    pub content: Text,
}

impl MessagesParams {
    /// The neutral sampling parameters; `max_tokens` is required, as Anthropic requires it.
    pub fn sampling(&self, max_tokens_cap: Option<u32>) -> Result<SamplingParams, ApiError> {
        if self.max_tokens.is_none() {
            return Err(ApiError::invalid("max_tokens", "'max_tokens' is required"));
        }
        if let Some(t) = &self.thinking {
            if t["type"].as_str().is_some_and(|k| k != "disabled") {
                return Err(ApiError::invalid(
                    "thinking",
                    "'thinking': extended thinking is not supported by this model; leave it out",
                ));
            }
        }
        Sampling {
            temperature: Field::new("temperature", self.temperature),
            top_p: Field::new("top_p", self.top_p),
            top_k: Field::new("top_k", self.top_k),
            min_p: Field::new("min_p", None),
            seed: None,
            presence_penalty: Field::new("presence_penalty", None),
            frequency_penalty: Field::new("frequency_penalty", None),
            repeat_penalty: Field::new("repeat_penalty", None),
            max_tokens: Field::new("max_tokens", self.max_tokens),
            stop: Field::new("stop_sequences", self.stop_sequences.clone()),
            format: None,
        }
        .validate(max_tokens_cap)
    }
}

/// What a request becomes: the chat, and the text of a final assistant message (a prefill
/// the answer continues), if it ends with one.
#[derive(Debug)]
pub struct Chat {
    pub messages: Vec<ChatMessage>,
    pub prefill: Option<String>,
}

impl MessagesBody {
    /// The tool definitions and choice, checked.
    pub fn tools(&self) -> Result<Option<Tools>, ApiError> {
        let Some(tools) = &self.tools else {
            return Ok(None);
        };
        let mut definitions = Vec::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            if let Some(kind) = t["type"].as_str().filter(|k| *k != "custom") {
                return Err(ApiError::invalid(
                    format!("tools[{i}].type"),
                    format!("tools[{i}]: tool type '{kind}' is not supported; only custom tools (name, description, input_schema) are"),
                ));
            }
            if !matches!(t["input_schema"], Value::Object(_) | Value::Null) {
                return Err(ApiError::invalid(
                    format!("tools[{i}].input_schema"),
                    format!("tools[{i}].input_schema must be a JSON schema object"),
                ));
            }
            let mut function = json!({ "name": t["name"], "parameters": t["input_schema"] });
            if let Some(d) = t["description"].as_str() {
                function["description"] = json!(d);
            }
            definitions.push(json!({ "type": "function", "function": function }));
        }
        let (tool_choice, parallel) = match &self.tool_choice {
            None | Some(Value::Null) => (None, None),
            Some(c) => {
                let choice = match c["type"].as_str() {
                    Some("auto") => json!("auto"),
                    Some("any") => json!("required"),
                    Some("none") => json!("none"),
                    Some("tool") => {
                        json!({ "type": "function", "function": { "name": c["name"] } })
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            "tool_choice",
                            "'tool_choice.type' must be 'auto', 'any', 'tool' or 'none'",
                        ))
                    }
                };
                let parallel = c["disable_parallel_tool_use"].as_bool().map(|d| !d);
                (Some(choice), parallel)
            }
        };
        ToolFields {
            tools: Some(definitions),
            tool_choice,
            parallel_tool_calls: parallel,
            functions: None,
            function_call: None,
        }
        .to_tools()
    }

    /// The conversation as chat messages. Tool results become `tool` messages (named after
    /// the call they answer), `tool_use` blocks the assistant's calls; thinking blocks from
    /// another model's history are dropped.
    pub fn chat(self) -> Result<Chat, ApiError> {
        if self.messages.is_empty() {
            return Err(ApiError::invalid(
                "messages",
                "'messages' must contain at least one message",
            ));
        }
        let mut out = Vec::new();
        if let Some(system) = self.system {
            let text = system_text(system)?;
            if !text.is_empty() {
                out.push(ChatMessage::new("system", text));
            }
        }
        let last = self.messages.len() - 1;
        let mut call_names: HashMap<String, String> = HashMap::new();
        let mut prefill = None;
        for (i, m) in self.messages.into_iter().enumerate() {
            let at = format!("messages[{i}]");
            match m.role.as_str() {
                "user" => user_turn(m.content, &at, &call_names, &mut out)?,
                "assistant" => {
                    let turn = assistant_turn(m.content, &at, &mut call_names)?;
                    if i == last && turn.tool_calls.is_none() {
                        prefill = Some(turn.content);
                    } else {
                        out.push(turn);
                    }
                }
                other => {
                    return Err(ApiError::invalid(
                        format!("{at}.role"),
                        format!("{at}.role: unknown role '{other}'; expected 'user' or 'assistant' (the system prompt goes in 'system')"),
                    ))
                }
            }
        }
        Ok(Chat {
            messages: out,
            prefill,
        })
    }
}

fn system_text(system: Text) -> Result<String, ApiError> {
    match system {
        Text::Plain(s) => Ok(s),
        Text::Blocks(blocks) => {
            let mut parts = Vec::new();
            for (j, b) in blocks.iter().enumerate() {
                parts.push(text_block(b, &format!("system[{j}]"))?);
            }
            Ok(parts.join("\n"))
        }
    }
}

/// The text of a `text` block; any other type is refused.
fn text_block(block: &Value, at: &str) -> Result<String, ApiError> {
    match (block["type"].as_str(), block["text"].as_str()) {
        (Some("text"), Some(t)) => Ok(t.to_owned()),
        (Some("text"), None) => Err(ApiError::invalid(
            format!("{at}.text"),
            format!("{at}.text is missing"),
        )),
        (kind, _) => Err(unsupported(at, kind)),
    }
}

fn unsupported(at: &str, kind: Option<&str>) -> ApiError {
    ApiError::invalid(
        format!("{at}.type"),
        format!(
            "{at}: content block type '{}' is not supported; this model reads text, tool_use and tool_result blocks",
            kind.unwrap_or("(missing)")
        ),
    )
}

/// A user turn: text, and tool results (each a `tool` message, in order).
fn user_turn(
    content: Text,
    at: &str,
    call_names: &HashMap<String, String>,
    out: &mut Vec<ChatMessage>,
) -> Result<(), ApiError> {
    let blocks = match content {
        Text::Plain(s) => {
            out.push(ChatMessage::new("user", s));
            return Ok(());
        }
        Text::Blocks(b) => b,
    };
    let mut text = String::new();
    let mut any = false;
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        match b["type"].as_str() {
            Some("tool_result") => {
                if !text.is_empty() {
                    out.push(ChatMessage::new("user", std::mem::take(&mut text)));
                }
                let Some(id) = b["tool_use_id"].as_str() else {
                    return Err(ApiError::invalid(
                        format!("{at}.tool_use_id"),
                        format!("{at}.tool_use_id is missing"),
                    ));
                };
                let mut result = match &b["content"] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    Value::Array(parts) => {
                        let mut texts = Vec::new();
                        for (k, p) in parts.iter().enumerate() {
                            texts.push(text_block(p, &format!("{at}.content[{k}]"))?);
                        }
                        texts.join("\n")
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            format!("{at}.content"),
                            format!("{at}.content must be a string or text blocks"),
                        ))
                    }
                };
                if b["is_error"].as_bool() == Some(true) {
                    result = format!("Error: {result}");
                }
                let mut m = ChatMessage::new("tool", result);
                m.tool_call_id = Some(id.to_owned());
                m.name = call_names.get(id).cloned();
                out.push(m);
                any = true;
            }
            _ => text.push_str(&text_block(b, &at)?),
        }
    }
    if !text.is_empty() || !any {
        out.push(ChatMessage::new("user", text));
    }
    Ok(())
}

/// An assistant turn: its text and its calls (remembered by id for the results).
fn assistant_turn(
    content: Text,
    at: &str,
    call_names: &mut HashMap<String, String>,
) -> Result<ChatMessage, ApiError> {
    let blocks = match content {
        Text::Plain(s) => return Ok(ChatMessage::new("assistant", s)),
        Text::Blocks(b) => b,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        match b["type"].as_str() {
            Some("tool_use") => {
                let call = json!({
                    "id": b["id"],
                    "function": { "name": b["name"], "arguments": b["input"] },
                });
                let call = history_call(&call, &at)?;
                if let (Some(id), Some(name)) = (b["id"].as_str(), b["name"].as_str()) {
                    call_names.insert(id.to_owned(), name.to_owned());
                }
                calls.push(call);
            }
            Some("thinking" | "redacted_thinking") => {}
            _ => text.push_str(&text_block(b, &at)?),
        }
    }
    let mut m = ChatMessage::new("assistant", text);
    m.tool_calls = (!calls.is_empty()).then_some(calls);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgellm_backend::ToolChoice;

    fn body(v: Value) -> MessagesBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn blocks_become_chat_messages() {
        let chat = body(json!({
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "..."},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18 C"}]},
                    {"type": "text", "text": "Thanks"},
                ]},
            ],
        }))
        .chat()
        .unwrap();
        assert!(chat.prefill.is_none());
        let m = &chat.messages;
        let roles: Vec<_> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
        assert_eq!(m[0].content, "Be brief.");
        assert_eq!(m[2].content, "Let me look.");
        let call = &m[2].tool_calls.as_ref().unwrap()[0];
        assert_eq!(call["function"]["arguments"]["city"], "Paris");
        assert_eq!(call["id"], "toolu_1");
        assert_eq!(m[3].content, "18 C");
        assert_eq!(m[3].name.as_deref(), Some("get_weather"));
        assert_eq!(m[3].tool_call_id.as_deref(), Some("toolu_1"));
    }

    #[test]
    fn a_final_assistant_message_is_a_prefill() {
        let chat = body(json!({"messages": [
            {"role": "user", "content": "JSON please"},
            {"role": "assistant", "content": "{"},
        ]}))
        .chat()
        .unwrap();
        assert_eq!(chat.prefill.as_deref(), Some("{"));
        assert_eq!(chat.messages.len(), 1);
    }

    #[test]
    fn bad_blocks_and_roles_name_their_field() {
        for (v, param) in [
            (json!({"messages": []}), "messages"),
            (
                json!({"messages": [{"role": "system", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}),
                "messages[0].content[0].tool_use_id",
            ),
        ] {
            match body(v.clone()).chat().unwrap_err() {
                ApiError::InvalidRequest { param: p, .. } => {
                    assert_eq!(p.as_deref(), Some(param), "{v}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn tools_and_choices_map() {
        let weather = json!([{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}]);
        for (choice, want) in [
            (json!({"type": "auto"}), ToolChoice::Auto),
            (json!({"type": "any"}), ToolChoice::Required),
            (json!({"type": "none"}), ToolChoice::None),
            (
                json!({"type": "tool", "name": "get_weather"}),
                ToolChoice::Function("get_weather".into()),
            ),
        ] {
            let t = body(json!({"messages": [], "tools": weather, "tool_choice": choice}))
                .tools()
                .unwrap()
                .unwrap();
            assert_eq!(t.choice, want);
            assert_eq!(t.definitions[0]["function"]["parameters"]["type"], "object");
        }
        let t = body(json!({"messages": [], "tools": weather,
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}))
        .tools()
        .unwrap()
        .unwrap();
        assert!(!t.parallel);
        for bad in [
            json!({"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            json!({"messages": [], "tools": weather, "tool_choice": {"type": "tool", "name": "nope"}}),
            json!({"messages": [], "tools": weather, "tool_choice": {"type": "sometimes"}}),
        ] {
            assert!(body(bad.clone()).tools().is_err(), "{bad}");
        }
    }

    #[test]
    fn max_tokens_is_required_and_thinking_refused() {
        let p = |v: Value| serde_json::from_value::<MessagesParams>(v).unwrap();
        assert!(p(json!({})).sampling(None).is_err());
        let s = p(json!({"max_tokens": 9, "stop_sequences": ["x"]}))
            .sampling(None)
            .unwrap();
        assert_eq!((s.max_tokens, s.stop), (Some(9), vec!["x".to_string()]));
        assert!(p(
            json!({"max_tokens": 9, "thinking": {"type": "enabled", "budget_tokens": 1024}})
        )
        .sampling(None)
        .is_err());
    }
}
