//! Ollama's `options` object and `format`.

use edgellm_backend::SamplingParams;
use serde::Deserialize;

use crate::error::ApiError;
use crate::request::sampling::{Field, Sampling};

/// The fields of `options` we honour; others (num_gpu, mirostat, ...) are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Options {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i64>,
    pub min_p: Option<f32>,
    pub seed: Option<i64>,
    pub num_predict: Option<i64>,
    pub num_ctx: Option<i64>,
    pub repeat_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub stop: Option<Vec<String>>,
}

/// Fields both Ollama generation endpoints take.
#[derive(Debug, Deserialize)]
pub struct OllamaCommon {
    #[serde(default)]
    pub model: Option<String>,
    /// Ollama streams unless told otherwise.
    #[serde(default = "yes", deserialize_with = "null_as_yes")]
    pub stream: bool,
    #[serde(default)]
    pub options: Options,
    /// `"json"` or a JSON schema object.
    #[serde(default)]
    pub format: Option<serde_json::Value>,
    /// Log probabilities of the answer's tokens, with `top_logprobs` alternatives each.
    #[serde(default, deserialize_with = "crate::json::null_as_default")]
    pub logprobs: bool,
    #[serde(default)]
    pub top_logprobs: Option<i64>,
}

fn yes() -> bool {
    true
}

/// `"stream": null` is Ollama's default, streaming.
fn null_as_yes<'de, D: serde::Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(de)?.unwrap_or(true))
}

impl OllamaCommon {
    /// Map `options` and `format` into the neutral [`Sampling`] (the same checks as the
    /// OpenAI fields, so limits agree; errors name `options.*`).
    pub fn sampling(&self, max_tokens_cap: Option<u32>) -> Result<SamplingParams, ApiError> {
        let o = &self.options;
        let format = match &self.format {
            None => None,
            Some(serde_json::Value::String(s)) if s == "json" => {
                Some(serde_json::json!({ "type": "object" }))
            }
            Some(serde_json::Value::String(s)) if s.is_empty() => None,
            Some(schema @ serde_json::Value::Object(_)) => Some(schema.clone()),
            Some(other) => {
                return Err(ApiError::invalid(
                    "format",
                    format!("format must be \"json\" or a JSON schema, got {other}"),
                ))
            }
        };
        Sampling {
            temperature: Field::new("options.temperature", o.temperature),
            top_p: Field::new("options.top_p", o.top_p),
            top_k: Field::new("options.top_k", o.top_k),
            min_p: Field::new("options.min_p", o.min_p),
            seed: o.seed,
            presence_penalty: Field::new("options.presence_penalty", o.presence_penalty),
            frequency_penalty: Field::new("options.frequency_penalty", o.frequency_penalty),
            repeat_penalty: Field::new("options.repeat_penalty", o.repeat_penalty),
            // Ollama: -1 means "until the context is full".
            max_tokens: Field::new("options.num_predict", o.num_predict.filter(|&n| n >= 0)),
            stop: Field::new("options.stop", o.stop.clone()),
            format,
        }
        .validate(max_tokens_cap)
        .and_then(|mut p| {
            p.logprobs = self.logprobs()?;
            Ok(p)
        })
    }

    fn logprobs(&self) -> Result<Option<u8>, ApiError> {
        let max = i64::from(edgellm_backend::MAX_TOP_LOGPROBS);
        let top = match self.top_logprobs {
            None => 0,
            Some(n) if (0..=max).contains(&n) => n as u8,
            Some(n) => {
                return Err(ApiError::invalid(
                    "top_logprobs",
                    format!("top_logprobs must be between 0 and {max}, got {n}"),
                ))
            }
        };
        Ok(self.logprobs.then_some(top))
    }
}
