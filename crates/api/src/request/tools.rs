//! Tool calling, shared by both APIs: reading tool definitions and `tool_choice`, and
//! reading calls in the history. The calls the model makes arrive parsed from the engine
//! ([`edgellm_backend::ToolCall`]); the endpoints only render them.

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
