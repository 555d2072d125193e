//! Tool calling, shared by both APIs: reading tool definitions and `tool_choice`, reading
//! calls in the history, and reading the calls the model made.

use edgellm_backend::{ToolChoice, Tools};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;

/// Most tools one request may define.
const MAX_TOOLS: usize = 128;

/// The request fields about tools (OpenAI's, including the legacy `functions`; Ollama uses
/// `tools` only).
#[derive(Debug, Default, Deserialize)]
pub struct ToolFields {
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub functions: Option<Vec<Value>>,
    #[serde(default)]
    pub function_call: Option<Value>,
}

impl ToolFields {
    /// Whether the request used the legacy `functions` form (answered with `function_call`).
    pub fn legacy(&self) -> bool {
        self.tools.is_none() && self.functions.is_some()
    }

    /// Check the definitions and the choice.
    pub fn to_tools(&self) -> Result<Option<Tools>, ApiError> {
        let (field, definitions) = match (&self.tools, &self.functions) {
            (Some(t), _) => ("tools", t.clone()),
            (None, Some(f)) => (
                "functions",
                f.iter()
                    .map(|f| json!({ "type": "function", "function": f }))
                    .collect(),
            ),
            (None, None) => return Ok(None),
        };
        if definitions.is_empty() {
            return Ok(None);
        }
        if definitions.len() > MAX_TOOLS {
            return Err(ApiError::invalid(
                field,
                format!("at most {MAX_TOOLS} tools are allowed"),
            ));
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, d) in definitions.iter().enumerate() {
            let kind = d["type"].as_str().unwrap_or("function");
            if kind != "function" {
                return Err(ApiError::invalid(
                    format!("{field}[{i}].type"),
                    format!(
                        "{field}[{i}]: tool type '{kind}' is not supported; only 'function' is"
                    ),
                ));
            }
            let f = &d["function"];
            let Some(name) = f["name"].as_str().filter(|n| valid_name(n)) else {
                return Err(ApiError::invalid(
                    format!("{field}[{i}].function.name"),
                    format!("{field}[{i}].function.name must be 1 to 64 letters, digits, '_', '-' or '.'"),
                ));
            };
            if names.contains(&name) {
                return Err(ApiError::invalid(
                    format!("{field}[{i}].function.name"),
                    format!("{field}[{i}]: the tool name '{name}' is used twice"),
                ));
            }
            names.push(name);
            match &f["parameters"] {
                Value::Null | Value::Object(_) => {}
                _ => {
                    return Err(ApiError::invalid(
                        format!("{field}[{i}].function.parameters"),
                        format!("{field}[{i}].function.parameters must be a JSON schema object"),
                    ))
                }
            }
        }
        let choice = self.choice(&names)?;
        Ok(Some(Tools {
            // The template sees the definition with the type filled in.
            definitions: definitions
                .into_iter()
                .map(|d| json!({ "type": "function", "function": d["function"] }))
                .collect(),
            choice,
            parallel: self.parallel_tool_calls.unwrap_or(true),
        }))
    }

    fn choice(&self, names: &[&str]) -> Result<ToolChoice, ApiError> {
        let (field, value) = match (&self.tool_choice, &self.function_call) {
            (Some(v), _) => ("tool_choice", v),
            (None, Some(v)) => ("function_call", v),
            (None, None) => return Ok(ToolChoice::Auto),
        };
        let named = |name: &str| {
            if names.contains(&name) {
                Ok(ToolChoice::Function(name.to_owned()))
            } else {
                Err(ApiError::invalid(
                    field,
                    format!("'{field}' names the function '{name}', which is not among the tools"),
                ))
            }
        };
        match value {
            Value::String(s) => match s.as_str() {
                "auto" => Ok(ToolChoice::Auto),
                "none" => Ok(ToolChoice::None),
                "required" | "any" => Ok(ToolChoice::Required),
                other => Err(ApiError::invalid(
                    field,
                    format!(
                        "'{field}' must be 'auto', 'none', 'required' or a function, got '{other}'"
                    ),
                )),
            },
            Value::Object(_) => {
                let name = value["function"]["name"]
                    .as_str()
                    .or_else(|| value["name"].as_str());
                match name {
                    Some(name) => named(name),
                    None => Err(ApiError::invalid(
                        field,
                        format!("'{field}' as an object must name a function: {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}"),
                    )),
                }
            }
            Value::Null => Ok(ToolChoice::Auto),
            other => Err(ApiError::invalid(
                field,
                format!("'{field}' must be a string or an object, got {other}"),
            )),
        }
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A call in a history message, in the form templates read: arguments as an object.
/// OpenAI sends arguments as a JSON string, Ollama as an object.
pub fn history_call(call: &Value, at: &str) -> Result<Value, ApiError> {
    let f = &call["function"];
    let Some(name) = f["name"].as_str() else {
        return Err(ApiError::invalid(
            format!("{at}.function.name"),
            format!("{at}.function.name is missing"),
        ));
    };
    let arguments = match &f["arguments"] {
        Value::String(s) if s.trim().is_empty() => json!({}),
        Value::String(s) => serde_json::from_str::<Value>(s).map_err(|e| {
            ApiError::invalid(
                format!("{at}.function.arguments"),
                format!("{at}.function.arguments is not valid JSON: {e}"),
            )
        })?,
        Value::Null => json!({}),
        v => v.clone(),
    };
    let mut out =
        json!({ "type": "function", "function": { "name": name, "arguments": arguments } });
    if let Some(id) = call["id"].as_str() {
        out["id"] = json!(id);
    }
    Ok(out)
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    /// A JSON object.
    pub arguments: Value,
}

/// The calls in the tool-call part of an answer: `<tool_call>{..}</tool_call>` blocks or
/// bare `{"name": .., "arguments": ..}` objects. `None` when it is not a complete set of
/// calls (cut off by `max_tokens`, say); the caller then returns it as text.
pub fn parse_calls(text: &str) -> Option<Vec<Call>> {
    let mut calls = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest
            .strip_prefix("<tool_call>")
            .or_else(|| rest.strip_prefix("</tool_call>"))
        {
            rest = r;
            continue;
        }
        if rest.is_empty() {
            break;
        }
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let value = values.next()?.ok()?;
        rest = &rest[values.byte_offset()..];
        let name = value["name"].as_str()?.to_owned();
        let arguments = match &value["arguments"] {
            Value::Object(_) => value["arguments"].clone(),
            Value::String(s) => serde_json::from_str(s).ok().filter(Value::is_object)?,
            Value::Null => json!({}),
            _ => return None,
        };
        calls.push(Call { name, arguments });
    }
    (!calls.is_empty()).then_some(calls)
}

/// An id for a call, as OpenAI forms them.
pub fn call_id() -> String {
    format!("call_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Value) -> ToolFields {
        serde_json::from_value(v).unwrap()
    }

    fn weather() -> Value {
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])
    }

    #[test]
    fn choices_are_read_and_checked() {
        let t = fields(json!({"tools": weather()}))
            .to_tools()
            .unwrap()
            .unwrap();
        assert_eq!(t.choice, ToolChoice::Auto);
        assert!(t.parallel);
        for (choice, want) in [
            (json!("none"), ToolChoice::None),
            (json!("required"), ToolChoice::Required),
            (
                json!({"type": "function", "function": {"name": "get_weather"}}),
                ToolChoice::Function("get_weather".into()),
            ),
        ] {
            let t = fields(json!({"tools": weather(), "tool_choice": choice}))
                .to_tools()
                .unwrap()
                .unwrap();
            assert_eq!(t.choice, want);
        }
        for bad in [
            json!({"tools": weather(), "tool_choice": "sometimes"}),
            json!({"tools": weather(), "tool_choice": {"type": "function", "function": {"name": "nope"}}}),
            json!({"tools": [{"type": "function", "function": {"name": "a b"}}]}),
            json!({"tools": [{"type": "retrieval"}]}),
            json!({"tools": [{"function": {"name": "a"}}, {"function": {"name": "a"}}]}),
            json!({"tools": [{"function": {"name": "a", "parameters": "x"}}]}),
        ] {
            assert!(fields(bad.clone()).to_tools().is_err(), "{bad}");
        }
    }

    #[test]
    fn legacy_functions_become_tools() {
        let f = fields(json!({"functions": [{"name": "f"}], "function_call": {"name": "f"}}));
        assert!(f.legacy());
        let t = f.to_tools().unwrap().unwrap();
        assert_eq!(t.choice, ToolChoice::Function("f".into()));
        assert_eq!(t.definitions[0]["function"]["name"], "f");
    }

    #[test]
    fn calls_are_parsed_in_both_forms() {
        let tagged = "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>";
        let calls = parse_calls(tagged).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].arguments, json!({"x": 1}));
        assert_eq!(calls[1].name, "b");
        let bare = parse_calls("{\"name\": \"a\", \"arguments\": \"{\\\"x\\\": 2}\"}").unwrap();
        assert_eq!(bare[0].arguments, json!({"x": 2}));
        assert!(parse_calls("<tool_call>\n{\"name\": \"a\", \"argu").is_none());
        assert!(parse_calls("").is_none());
        assert!(parse_calls("{\"arguments\": {}}").is_none());
    }

    #[test]
    fn history_arguments_become_objects() {
        let c = history_call(
            &json!({"id": "call_1", "function": {"name": "a", "arguments": "{\"x\": 1}"}}),
            "m",
        )
        .unwrap();
        assert_eq!(c["function"]["arguments"], json!({"x": 1}));
        assert_eq!(c["id"], "call_1");
        assert!(history_call(&json!({"function": {"name": "a", "arguments": "{"}}), "m").is_err());
    }
}
