//! Chat messages as both dialects send them (their shapes agree): a role, content as a
//! string or text parts, the calls an assistant made, and tool results. Checked and turned
//! into the engine's [`ChatMessage`]s.

use edgellm_backend::ChatMessage;
use serde::Deserialize;
use serde_json::json;

use super::tools;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    /// Calls an assistant made (OpenAI: arguments as a string; Ollama: an object).
    #[serde(default)]
    pub tool_calls: Option<Vec<serde_json::Value>>,
    /// Legacy form of one call.
    #[serde(default)]
    pub function_call: Option<serde_json::Value>,
    /// For `role: "tool"`: OpenAI's call id, Ollama's `tool_name`.
    #[serde(default)]
    pub tool_call_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tool_name: Option<String>,
}

/// A string, or a list of content parts of which the text ones are used.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Check messages and turn them into the engine's form.
pub fn to_messages(messages: Vec<Message>) -> Result<Vec<ChatMessage>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "messages",
            "'messages' must contain at least one message",
        ));
    }
    messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            if !ROLES.contains(&m.role.as_str()) {
                return Err(ApiError::invalid(
                    format!("messages[{i}].role"),
                    format!("messages[{i}].role: unknown role '{}'; expected one of {}", m.role, ROLES.join(", ")),
                ));
            }
            let content = match m.content {
                None => String::new(),
                Some(Content::Text(t)) => t,
                Some(Content::Parts(parts)) => {
                    let mut text = String::new();
                    for (j, part) in parts.into_iter().enumerate() {
                        match (part.kind.as_str(), part.text) {
                            ("text", Some(t)) => text.push_str(&t),
                            (kind, _) => {
                                return Err(ApiError::invalid(
                                    format!("messages[{i}].content[{j}].type"),
                                    format!("messages[{i}].content[{j}]: content part type '{kind}' is not supported; only 'text' is"),
                                ))
                            }
                        }
                    }
                    text
                }
            };
            let role = match m.role.as_str() {
                "developer" => "system".into(),
                // The legacy function result is a tool message.
                "function" => "tool".into(),
                _ => m.role,
            };
            let mut calls = m.tool_calls.unwrap_or_default();
            calls.extend(m.function_call.map(|f| json!({ "function": f })));
            let tool_calls = calls
                .iter()
                .enumerate()
                .map(|(j, c)| tools::history_call(c, &format!("messages[{i}].tool_calls[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ChatMessage {
                role,
                content,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                tool_call_id: m.tool_call_id,
                name: m.name.or(m.tool_name),
            })
        })
        .collect()
}
