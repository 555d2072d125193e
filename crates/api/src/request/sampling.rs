//! Sampling parameters, stop strings and the answer's JSON format, checked once for every
//! dialect. Each field carries the name its dialect gave it (`max_tokens`,
//! `options.num_predict`), so an error names the field the client sent.

use edgellm_backend::SamplingParams;
use serde_json::Value;

use crate::error::ApiError;

/// Most stop strings a request may give (OpenAI's limit).
pub const MAX_STOPS: usize = 4;

/// Longest stop string (bytes): each is matched against the text after every token, on
/// the engine thread.
pub const MAX_STOP_BYTES: usize = 256;

/// One field's value and where the client put it (`temperature`, `options.temperature`).
#[derive(Debug, Clone)]
pub struct Field<T> {
    pub param: &'static str,
    pub value: Option<T>,
}

impl<T> Field<T> {
    pub fn new(param: &'static str, value: Option<T>) -> Self {
        Self { param, value }
    }

    /// The field's own name, as messages quote it.
    fn label(&self) -> &'static str {
        self.param.rsplit('.').next().unwrap_or(self.param)
    }
}

/// What a request asks of the sampler, in no dialect.
#[derive(Debug, Clone)]
pub struct Sampling {
    pub temperature: Field<f32>,
    pub top_p: Field<f32>,
    pub top_k: Field<i64>,
    pub min_p: Field<f32>,
    /// Any integer; llama.cpp takes 32 bits.
    pub seed: Option<i64>,
    pub presence_penalty: Field<f32>,
    pub frequency_penalty: Field<f32>,
    pub repeat_penalty: Field<f32>,
    pub max_tokens: Field<i64>,
    pub stop: Field<Vec<String>>,
    /// The JSON schema the answer must follow (already read from the dialect's field).
    pub format: Option<Value>,
}

fn range(field: &Field<f32>, lo: f32, hi: f32) -> Result<Option<f32>, ApiError> {
    match field.value {
        Some(v) if !(lo..=hi).contains(&v) || v.is_nan() => Err(ApiError::invalid(
            field.param,
            format!("'{}' must be between {lo} and {hi}, got {v}", field.label()),
        )),
        other => Ok(other),
    }
}

impl Sampling {
    /// Check every field and convert; `max_tokens_cap` (`--max-tokens-cap`) is the default
    /// and the limit of `max_tokens`.
    pub fn validate(self, max_tokens_cap: Option<u32>) -> Result<SamplingParams, ApiError> {
        let mut p = SamplingParams::default();
        if let Some(t) = range(&self.temperature, 0.0, 2.0)? {
            p.temperature = t;
        }
        if let Some(v) = self.top_p.value {
            if !(v > 0.0 && v <= 1.0) {
                return Err(ApiError::invalid(
                    self.top_p.param,
                    format!(
                        "'{}' must be greater than 0 and at most 1, got {v}",
                        self.top_p.label()
                    ),
                ));
            }
            p.top_p = v;
        }
        if let Some(k) = self.top_k.value {
            p.top_k = u32::try_from(k).map_err(|_| {
                ApiError::invalid(
                    self.top_k.param,
                    format!("'{}' must be 0 or more, got {k}", self.top_k.label()),
                )
            })?;
        }
        if let Some(v) = range(&self.min_p, 0.0, 1.0)? {
            p.min_p = v;
        }
        if let Some(v) = range(&self.presence_penalty, -2.0, 2.0)? {
            p.presence_penalty = v;
        }
        if let Some(v) = range(&self.frequency_penalty, -2.0, 2.0)? {
            p.frequency_penalty = v;
        }
        if let Some(v) = range(&self.repeat_penalty, 0.0, 10.0)? {
            if v == 0.0 {
                return Err(ApiError::invalid(
                    self.repeat_penalty.param,
                    format!(
                        "'{}' must be greater than 0 (1 disables it)",
                        self.repeat_penalty.label()
                    ),
                ));
            }
            p.repeat_penalty = v;
        }
        p.seed = self.seed.map(|s| s as u32);
        let max = &self.max_tokens;
        if let Some(m) = max.value {
            if m < 1 {
                return Err(ApiError::invalid(
                    max.param,
                    format!("'{}' must be at least 1, got {m}", max.label()),
                ));
            }
            let m = u32::try_from(m).unwrap_or(u32::MAX);
            if let Some(cap) = max_tokens_cap.filter(|&cap| m > cap) {
                return Err(ApiError::invalid(
                    max.param,
                    format!(
                        "'{}' must be at most {cap} on this server, got {m}",
                        max.label()
                    ),
                ));
            }
            p.max_tokens = Some(m);
        } else {
            p.max_tokens = max_tokens_cap;
        }
        let stops = self.stop.value.unwrap_or_default();
        if stops.len() > MAX_STOPS {
            return Err(ApiError::invalid(
                self.stop.param,
                format!("at most {MAX_STOPS} stop strings are allowed"),
            ));
        }
        if let Some(long) = stops.iter().find(|s| s.len() > MAX_STOP_BYTES) {
            return Err(ApiError::invalid(
                self.stop.param,
                format!(
                    "a stop string may be at most {MAX_STOP_BYTES} bytes long, got {}",
                    long.len()
                ),
            ));
        }
        p.stop = stops;
        p.format = self.format;
        Ok(p)
    }
}
