//! Sampling fields shared by chat and text completions, and their validation.

use edgellm_backend::SamplingParams;
use serde::Deserialize;

use crate::error::ApiError;

/// `stop` may be one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// Fields both endpoints accept. Unknown fields are ignored, as OpenAI clients expect.
#[derive(Debug, Default, Deserialize)]
pub struct CommonParams {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "crate::json::null_as_default")]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i64>,
    pub min_p: Option<f32>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub stop: Option<Stop>,
    pub n: Option<i64>,
    /// `{"type": "text" | "json_object" | "json_schema", ...}`.
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
}

/// OpenAI's `response_format`: `json_object` constrains the answer to a JSON object,
/// `json_schema` to JSON valid under `json_schema.schema` (always enforced, `strict` or not).
#[derive(Debug, Deserialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub json_schema: Option<JsonSchemaFormat>,
}

#[derive(Debug, Deserialize)]
pub struct JsonSchemaFormat {
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
}

/// Most stop strings a request may give (OpenAI's limit).
const MAX_STOPS: usize = 4;

/// Longest stop string (bytes): each is matched against the text after every token, on
/// the engine thread.
pub const MAX_STOP_BYTES: usize = 256;

fn range(param: &str, value: Option<f32>, lo: f32, hi: f32) -> Result<Option<f32>, ApiError> {
    match value {
        Some(v) if !(lo..=hi).contains(&v) || v.is_nan() => Err(ApiError::invalid(
            param,
            format!("'{param}' must be between {lo} and {hi}, got {v}"),
        )),
        other => Ok(other),
    }
}

impl CommonParams {
    /// Validate and convert; every error names its parameter.
    pub fn sampling(&self, max_tokens_cap: Option<u32>) -> Result<SamplingParams, ApiError> {
        let mut p = SamplingParams::default();
        if let Some(n) = self.n {
            if n != 1 {
                return Err(ApiError::invalid("n", "only n = 1 is supported"));
            }
        }
        if let Some(t) = range("temperature", self.temperature, 0.0, 2.0)? {
            p.temperature = t;
        }
        if let Some(v) = self.top_p {
            if !(v > 0.0 && v <= 1.0) {
                return Err(ApiError::invalid(
                    "top_p",
                    format!("'top_p' must be greater than 0 and at most 1, got {v}"),
                ));
            }
            p.top_p = v;
        }
        if let Some(k) = self.top_k {
            p.top_k = u32::try_from(k).map_err(|_| {
                ApiError::invalid("top_k", format!("'top_k' must be 0 or more, got {k}"))
            })?;
        }
        if let Some(v) = range("min_p", self.min_p, 0.0, 1.0)? {
            p.min_p = v;
        }
        if let Some(v) = range("presence_penalty", self.presence_penalty, -2.0, 2.0)? {
            p.presence_penalty = v;
        }
        if let Some(v) = range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)? {
            p.frequency_penalty = v;
        }
        if let Some(v) = range("repeat_penalty", self.repeat_penalty, 0.0, 10.0)? {
            if v == 0.0 {
                return Err(ApiError::invalid(
                    "repeat_penalty",
                    "'repeat_penalty' must be greater than 0 (1 disables it)",
                ));
            }
            p.repeat_penalty = v;
        }
        // Seeds of any integer are accepted; llama.cpp takes 32 bits.
        p.seed = self.seed.map(|s| s as u32);
        let (name, max) = match (self.max_completion_tokens, self.max_tokens) {
            (Some(m), _) => ("max_completion_tokens", Some(m)),
            (None, m) => ("max_tokens", m),
        };
        if let Some(m) = max {
            if m < 1 {
                return Err(ApiError::invalid(
                    name,
                    format!("'{name}' must be at least 1, got {m}"),
                ));
            }
            let m = u32::try_from(m).unwrap_or(u32::MAX);
            if let Some(cap) = max_tokens_cap.filter(|&cap| m > cap) {
                return Err(ApiError::invalid(
                    name,
                    format!("'{name}' must be at most {cap} on this server, got {m}"),
                ));
            }
            p.max_tokens = Some(m);
        } else {
            p.max_tokens = max_tokens_cap;
        }
        p.stop = match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) if v.len() > MAX_STOPS => {
                return Err(ApiError::invalid(
                    "stop",
                    format!("at most {MAX_STOPS} stop strings are allowed"),
                ))
            }
            Some(Stop::Many(v)) => v.clone(),
        };
        if let Some(long) = p.stop.iter().find(|s| s.len() > MAX_STOP_BYTES) {
            return Err(ApiError::invalid(
                "stop",
                format!(
                    "a stop string may be at most {MAX_STOP_BYTES} bytes long, got {}",
                    long.len()
                ),
            ));
        }
        let schema = self
            .response_format
            .as_ref()
            .and_then(|f| f.json_schema.as_ref())
            .and_then(|s| s.schema.clone());
        p.format = match self.response_format.as_ref().map(|f| f.kind.as_str()) {
            None | Some("text") => None,
            Some("json_object") => Some(serde_json::json!({ "type": "object" })),
            Some("json_schema") => match schema {
                Some(schema @ serde_json::Value::Object(_)) => Some(schema),
                _ => {
                    return Err(ApiError::invalid(
                        "response_format.json_schema.schema",
                        "'response_format.json_schema.schema' must be a JSON schema object",
                    ))
                }
            },
            Some(other) => {
                return Err(ApiError::invalid(
                    "response_format.type",
                    format!("'response_format.type' must be 'text', 'json_object' or 'json_schema', got '{other}'"),
                ))
            }
        };
        Ok(p)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SamplingParams, ApiError> {
        crate::json::parse::<CommonParams>(json.as_bytes())?.sampling(None)
    }

    fn param_of(err: ApiError) -> Option<String> {
        match err {
            ApiError::InvalidRequest { param, .. } => param,
            _ => None,
        }
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        for (body, field) in [
            (r#"{"temperature": -0.1}"#, "temperature"),
            (r#"{"top_p": 1.5}"#, "top_p"),
            (r#"{"top_p": 0}"#, "top_p"),
            (r#"{"max_tokens": 0}"#, "max_tokens"),
            (r#"{"top_k": -1}"#, "top_k"),
            (r#"{"n": 2}"#, "n"),
            (r#"{"stop": ["a","b","c","d","e"]}"#, "stop"),
            (
                format!(r#"{{"stop": "{}"}}"#, "x".repeat(257)).as_str(),
                "stop",
            ),
            (
                format!(r#"{{"stop": ["a", "{}"]}}"#, "x".repeat(257)).as_str(),
                "stop",
            ),
        ] {
            assert_eq!(
                param_of(parse(body).unwrap_err()).as_deref(),
                Some(field),
                "{body}"
            );
        }
    }

    #[test]
    fn valid_values_are_used_and_unknown_fields_ignored() {
        let p = parse(
            r#"{"temperature": 0, "top_p": 0.5, "max_tokens": 7, "stop": "x", "logit_bias": {}}"#,
        )
        .unwrap();
        assert_eq!(p.temperature, 0.0);
        assert_eq!(p.top_p, 0.5);
        assert_eq!(p.max_tokens, Some(7));
        assert_eq!(p.stop, vec!["x".to_string()]);
    }

    #[test]
    fn cap_applies_as_default_and_limit() {
        let p = crate::json::parse::<CommonParams>(b"{}")
            .unwrap()
            .sampling(Some(64))
            .unwrap();
        assert_eq!(p.max_tokens, Some(64));
        let err = crate::json::parse::<CommonParams>(br#"{"max_tokens": 65}"#)
            .unwrap()
            .sampling(Some(64))
            .unwrap_err();
        assert_eq!(param_of(err).as_deref(), Some("max_tokens"));
    }
}
