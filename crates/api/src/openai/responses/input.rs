//! A Responses request mapped into the neutral request: `instructions` and `input` (a string,
//! or items: messages, `function_call`, `function_call_output`) become chat messages;
//! `tools` (flat function tools), `tool_choice`, `text.format`, `max_output_tokens`,
//! `temperature`, `top_p` become tools and sampling. Stateless: nothing is stored, so a
//! `previous_response_id` or `conversation` is refused, as are options it cannot honour.

use std::collections::HashMap;

use edgellm_backend::{ChatMessage, SamplingParams, Tools};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::request::sampling::{Field, Sampling};
use crate::request::tools::{history_call, ToolFields};

#[derive(Debug, Deserialize)]
pub struct ResponsesBody {
    pub input: Option<Input>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub text: Option<Value>,
    pub max_output_tokens: Option<i64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    #[serde(default, deserialize_with = "crate::json::null_as_default")]
    pub stream: bool,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    #[serde(default)]
    pub conversation: Option<Value>,
    #[serde(default)]
    pub prompt: Option<Value>,
    #[serde(default)]
    pub background: Option<bool>,
    #[serde(default)]
    pub top_logprobs: Option<i64>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// `input`: a string (one user message) or a list of items.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<Value>),
}

impl ResponsesBody {
    /// Options this server cannot honour: a 400 naming the field.
    pub fn refuse_unsupported(&self) -> Result<(), ApiError> {
        let stateless = "this server is stateless and keeps no responses; send the whole conversation in 'input'";
        if self.previous_response_id.is_some() {
            return Err(ApiError::invalid(
                "previous_response_id",
                format!("'previous_response_id': {stateless}"),
            ));
        }
        if self.conversation.as_ref().is_some_and(|c| !c.is_null()) {
            return Err(ApiError::invalid(
                "conversation",
                format!("'conversation': {stateless}"),
            ));
        }
        if self.prompt.as_ref().is_some_and(|p| !p.is_null()) {
            return Err(ApiError::invalid(
                "prompt",
                "'prompt': stored prompt templates are not supported; send 'instructions' and 'input'",
            ));
        }
        if self.background == Some(true) {
            return Err(ApiError::invalid(
                "background",
                "'background': responses are not stored, so they cannot run in the background",
            ));
        }
        if self.top_logprobs.is_some_and(|n| n > 0) {
            return Err(ApiError::invalid(
                "top_logprobs",
                "'top_logprobs' is not supported by this server; leave it out or set it to 0",
            ));
        }
        Ok(())
    }

    pub fn sampling(&self, max_tokens_cap: Option<u32>) -> Result<SamplingParams, ApiError> {
        Sampling {
            temperature: Field::new("temperature", self.temperature),
            top_p: Field::new("top_p", self.top_p),
            top_k: Field::new("top_k", None),
            min_p: Field::new("min_p", None),
            seed: None,
            presence_penalty: Field::new("presence_penalty", None),
            frequency_penalty: Field::new("frequency_penalty", None),
            repeat_penalty: Field::new("repeat_penalty", None),
            max_tokens: Field::new("max_output_tokens", self.max_output_tokens),
            stop: Field::new("stop", None),
            format: self.format()?,
        }
        .validate(max_tokens_cap)
    }

    /// `text.format`: `text`, `json_object`, or `json_schema` with its `schema`.
    fn format(&self) -> Result<Option<Value>, ApiError> {
        let Some(format) = self.text.as_ref().map(|t| &t["format"]) else {
            return Ok(None);
        };
        match format["type"].as_str() {
            None if format.is_null() => Ok(None),
            Some("text") => Ok(None),
            Some("json_object") => Ok(Some(json!({ "type": "object" }))),
            Some("json_schema") => match &format["schema"] {
                schema @ Value::Object(_) => Ok(Some(schema.clone())),
                _ => Err(ApiError::invalid(
                    "text.format.schema",
                    "'text.format.schema' must be a JSON schema object",
                )),
            },
            _ => Err(ApiError::invalid(
                "text.format.type",
                "'text.format.type' must be 'text', 'json_object' or 'json_schema'",
            )),
        }
    }

    /// Function tools (`{"type": "function", "name", "parameters"}`) and the choice.
    pub fn tools(&self) -> Result<Option<Tools>, ApiError> {
        let Some(tools) = &self.tools else {
            return Ok(None);
        };
        let mut definitions = Vec::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            match t["type"].as_str() {
                Some("function") => {}
                kind => {
                    return Err(ApiError::invalid(
                        format!("tools[{i}].type"),
                        format!(
                            "tools[{i}]: tool type '{}' is not supported; only 'function' tools are (this device runs no hosted tools)",
                            kind.unwrap_or("(missing)")
                        ),
                    ))
                }
            }
            let mut function = json!({ "name": t["name"], "parameters": t["parameters"] });
            if let Some(d) = t["description"].as_str() {
                function["description"] = json!(d);
            }
            definitions.push(json!({ "type": "function", "function": function }));
        }
        ToolFields {
            tools: Some(definitions),
            tool_choice: self.tool_choice.clone(),
            parallel_tool_calls: self.parallel_tool_calls,
            functions: None,
            function_call: None,
        }
        .to_tools()
    }

    /// `instructions`, then `input`, as chat messages.
    pub fn messages(&self) -> Result<Vec<ChatMessage>, ApiError> {
        let mut out = Vec::new();
        if let Some(i) = self.instructions.as_deref().filter(|i| !i.is_empty()) {
            out.push(ChatMessage::new("system", i));
        }
        match &self.input {
            None => return Err(ApiError::invalid("input", "'input' is required")),
            Some(Input::Text(t)) => out.push(ChatMessage::new("user", t.clone())),
            Some(Input::Items(items)) if items.is_empty() => {
                return Err(ApiError::invalid("input", "'input' must not be empty"))
            }
            Some(Input::Items(items)) => {
                let mut names = HashMap::new();
                for (i, item) in items.iter().enumerate() {
                    add_item(item, &format!("input[{i}]"), &mut names, &mut out)?;
                }
            }
        }
        Ok(out)
    }
}

/// One input item: a message, a call the model made, a call's output; reasoning items from
/// another model are dropped.
fn add_item(
    item: &Value,
    at: &str,
    names: &mut HashMap<String, String>,
    out: &mut Vec<ChatMessage>,
) -> Result<(), ApiError> {
    let kind = match item["type"].as_str() {
        Some(k) => k,
        None if item.get("role").is_some() => "message",
        None => {
            return Err(ApiError::invalid(
                format!("{at}.type"),
                format!("{at} needs a 'type' or a 'role'"),
            ))
        }
    };
    match kind {
        "message" => {
            let role = match item["role"].as_str() {
                Some("developer" | "system") => "system",
                Some(r @ ("user" | "assistant")) => r,
                other => {
                    return Err(ApiError::invalid(
                        format!("{at}.role"),
                        format!(
                            "{at}.role: unknown role '{}'; expected user, assistant, system or developer",
                            other.unwrap_or("(missing)")
                        ),
                    ))
                }
            };
            out.push(ChatMessage::new(role, content_text(&item["content"], at)?));
        }
        "function_call" => {
            let call_id = item["call_id"].as_str().unwrap_or_default();
            let call = json!({
                "id": call_id,
                "function": { "name": item["name"], "arguments": item["arguments"] },
            });
            let call = history_call(&call, at)?;
            if let Some(name) = item["name"].as_str() {
                names.insert(call_id.to_owned(), name.to_owned());
            }
            // Calls made in one turn belong to one assistant message.
            match out.last_mut() {
                Some(m) if m.role == "assistant" => {
                    m.tool_calls.get_or_insert_with(Vec::new).push(call);
                }
                _ => {
                    let mut m = ChatMessage::new("assistant", "");
                    m.tool_calls = Some(vec![call]);
                    out.push(m);
                }
            }
        }
        "function_call_output" => {
            let Some(call_id) = item["call_id"].as_str() else {
                return Err(ApiError::invalid(
                    format!("{at}.call_id"),
                    format!("{at}.call_id is missing"),
                ));
            };
            let mut m = ChatMessage::new("tool", content_text(&item["output"], at)?);
            m.tool_call_id = Some(call_id.to_owned());
            m.name = names.get(call_id).cloned();
            out.push(m);
        }
        "reasoning" => {}
        "item_reference" => {
            return Err(ApiError::invalid(
                format!("{at}.type"),
                format!("{at}: this server is stateless and keeps no items; send the item itself"),
            ))
        }
        other => {
            return Err(ApiError::invalid(
                format!("{at}.type"),
                format!("{at}: item type '{other}' is not supported; use message, function_call or function_call_output"),
            ))
        }
    }
    Ok(())
}

/// A message's content or a call's output: a string, or text parts (`input_text`,
/// `output_text`, `refusal`); images, files and audio are refused.
fn content_text(content: &Value, at: &str) -> Result<String, ApiError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for (j, p) in parts.iter().enumerate() {
                match p["type"].as_str() {
                    Some("input_text" | "output_text" | "text") => {
                        text.push_str(p["text"].as_str().unwrap_or_default())
                    }
                    Some("refusal") => text.push_str(p["refusal"].as_str().unwrap_or_default()),
                    kind => {
                        return Err(ApiError::invalid(
                            format!("{at}.content[{j}].type"),
                            format!(
                                "{at}.content[{j}]: content type '{}' is not supported; this model reads text only",
                                kind.unwrap_or("(missing)")
                            ),
                        ))
                    }
                }
            }
            Ok(text)
        }
        _ => Err(ApiError::invalid(
            format!("{at}.content"),
            format!("{at}.content must be a string or a list of text parts"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgellm_backend::ToolChoice;

    fn body(v: Value) -> ResponsesBody {
        serde_json::from_value(v).unwrap()
    }

    fn param(e: ApiError) -> Option<String> {
        match e {
            ApiError::InvalidRequest { param, .. } => param,
            _ => None,
        }
    }

    #[test]
    fn items_become_chat_messages() {
        let m = body(json!({
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": "Weather in Paris?"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "18 C"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]},
            ],
        }))
        .messages()
        .unwrap();
        let roles: Vec<_> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
        let calls = m[2].tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 2, "both calls in one assistant turn");
        assert_eq!(calls[0]["function"]["arguments"]["city"], "Paris");
        assert_eq!(m[3].name.as_deref(), Some("get_weather"));
        assert_eq!(m[3].content, "18 C");
        assert_eq!(m[4].content, "Thanks");
        assert_eq!(
            body(json!({"input": "hi"})).messages().unwrap()[0].role,
            "user"
        );
    }

    #[test]
    fn refusals_name_their_field() {
        for (v, want) in [
            (json!({}), "input"),
            (json!({"input": []}), "input"),
            (
                json!({"input": [{"role": "tool", "content": "x"}]}),
                "input[0].role",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"input": [{"type": "item_reference", "id": "x"}]}),
                "input[0].type",
            ),
        ] {
            assert_eq!(
                param(body(v.clone()).messages().unwrap_err()).as_deref(),
                Some(want),
                "{v}"
            );
        }
        for (v, want) in [
            (
                json!({"input": "x", "previous_response_id": "resp_1"}),
                "previous_response_id",
            ),
            (json!({"input": "x", "background": true}), "background"),
            (json!({"input": "x", "top_logprobs": 2}), "top_logprobs"),
        ] {
            assert_eq!(
                param(body(v.clone()).refuse_unsupported().unwrap_err()).as_deref(),
                Some(want),
                "{v}"
            );
        }
        let e = body(json!({"input": "x", "tools": [{"type": "web_search"}]}))
            .tools()
            .unwrap_err();
        assert_eq!(param(e).as_deref(), Some("tools[0].type"));
        let e = body(json!({"input": "x", "text": {"format": {"type": "json_schema"}}}))
            .sampling(None)
            .unwrap_err();
        assert_eq!(param(e).as_deref(), Some("text.format.schema"));
        let e = body(json!({"input": "x", "max_output_tokens": 0}))
            .sampling(None)
            .unwrap_err();
        assert_eq!(param(e).as_deref(), Some("max_output_tokens"));
    }

    #[test]
    fn tools_formats_and_choices_map() {
        let b = body(json!({
            "input": "x",
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "parallel_tool_calls": false,
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
            "max_output_tokens": 9,
        }));
        let t = b.tools().unwrap().unwrap();
        assert_eq!(t.choice, ToolChoice::Function("get_weather".into()));
        assert!(!t.parallel);
        assert_eq!(t.definitions[0]["function"]["name"], "get_weather");
        let s = b.sampling(None).unwrap();
        assert_eq!(s.max_tokens, Some(9));
        assert_eq!(s.format, Some(json!({"type": "object"})));
    }
}
