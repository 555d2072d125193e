//! OpenAI's sampling fields, shared by chat and text completions, mapped into the neutral
//! [`crate::request::sampling`] (where they are checked).

use edgellm_backend::SamplingParams;
use serde::Deserialize;

use crate::error::ApiError;
use crate::request::sampling::{Field, Sampling};

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
    /// Chat's `logprobs` (a bool) and completions' (a count).
    #[serde(default)]
    pub logprobs: Option<serde_json::Value>,
    #[serde(default)]
    pub top_logprobs: Option<i64>,
    /// Token biases change what is sampled; not supported, so a non-empty map is refused.
    #[serde(default)]
    pub logit_bias: Option<serde_json::Map<String, serde_json::Value>>,
    /// Output kinds: only `["text"]`; audio output is refused.
    #[serde(default)]
    pub modalities: Option<Vec<String>>,
    #[serde(default)]
    pub audio: Option<serde_json::Value>,
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

impl CommonParams {
    /// Map OpenAI's fields into the neutral [`Sampling`] and check them; every error names
    /// its parameter.
    pub fn sampling(&self, max_tokens_cap: Option<u32>) -> Result<SamplingParams, ApiError> {
        if let Some(n) = self.n {
            if n != 1 {
                return Err(ApiError::invalid("n", "only n = 1 is supported"));
            }
        }
        self.refuse_unsupported()?;
        let max_tokens = match (self.max_completion_tokens, self.max_tokens) {
            (Some(m), _) => Field::new("max_completion_tokens", Some(m)),
            (None, m) => Field::new("max_tokens", m),
        };
        let stop = self.stop.as_ref().map(|s| match s {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        });
        Sampling {
            temperature: Field::new("temperature", self.temperature),
            top_p: Field::new("top_p", self.top_p),
            top_k: Field::new("top_k", self.top_k),
            min_p: Field::new("min_p", self.min_p),
            seed: self.seed,
            presence_penalty: Field::new("presence_penalty", self.presence_penalty),
            frequency_penalty: Field::new("frequency_penalty", self.frequency_penalty),
            repeat_penalty: Field::new("repeat_penalty", self.repeat_penalty),
            max_tokens,
            stop: Field::new("stop", stop),
            format: self.format()?,
        }
        .validate(max_tokens_cap)
    }

    /// Options that would change the answer and that this server does not implement are a
    /// 400 naming the field, never accepted and ignored: a non-empty `logit_bias`, audio
    /// output. `logit_bias: {}` and `modalities: ["text"]` ask for nothing and pass.
    /// (`logprobs` are read by each endpoint: [`CommonParams::chat_logprobs`],
    /// [`CommonParams::completion_logprobs`].)
    fn refuse_unsupported(&self) -> Result<(), ApiError> {
        if self.logit_bias.as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(ApiError::invalid(
                "logit_bias",
                "'logit_bias' is not supported by this server; leave it out",
            ));
        }
        let audio = self
            .modalities
            .as_ref()
            .is_some_and(|m| m.iter().any(|k| k != "text"));
        if audio || self.audio.as_ref().is_some_and(|a| !a.is_null()) {
            let param = if audio { "modalities" } else { "audio" };
            return Err(ApiError::invalid(
                param,
                format!("'{param}': this server answers with text only"),
            ));
        }
        Ok(())
    }

    /// The schema `response_format` asks for.
    fn format(&self) -> Result<Option<serde_json::Value>, ApiError> {
        let schema = self
            .response_format
            .as_ref()
            .and_then(|f| f.json_schema.as_ref())
            .and_then(|s| s.schema.clone());
        match self.response_format.as_ref().map(|f| f.kind.as_str()) {
            None | Some("text") => Ok(None),
            Some("json_object") => Ok(Some(serde_json::json!({ "type": "object" }))),
            Some("json_schema") => match schema {
                Some(schema @ serde_json::Value::Object(_)) => Ok(Some(schema)),
                _ => Err(ApiError::invalid(
                    "response_format.json_schema.schema",
                    "'response_format.json_schema.schema' must be a JSON schema object",
                )),
            },
            Some(other) => Err(ApiError::invalid(
                "response_format.type",
                format!("'response_format.type' must be 'text', 'json_object' or 'json_schema', got '{other}'"),
            )),
        }
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
