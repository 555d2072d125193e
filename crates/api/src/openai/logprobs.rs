//! `logprobs` as OpenAI asks for them and shapes them: chat's `logprobs: true` with
//! `top_logprobs` (0-20) answered as `{"content": [{"token", "logprob", "bytes",
//! "top_logprobs"}], "refusal": null}`; completions' `logprobs: N` answered as `{"tokens",
//! "token_logprobs", "top_logprobs", "text_offset"}`. Streamed, each chunk carries its own
//! tokens'.

use edgellm_backend::{TokenLogprob, MAX_TOP_LOGPROBS};
use serde_json::{json, Map, Value};

use super::params::CommonParams;
use crate::error::ApiError;

impl CommonParams {
    /// Chat: `logprobs: true` asks, `top_logprobs` adds alternatives (and needs it).
    pub fn chat_logprobs(&self) -> Result<Option<u8>, ApiError> {
        let asked = match &self.logprobs {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::invalid(
                    "logprobs",
                    "'logprobs' must be a boolean on chat completions",
                ))
            }
        };
        let top = top("top_logprobs", self.top_logprobs)?;
        match (asked, top) {
            (true, top) => Ok(Some(top.unwrap_or(0))),
            (false, Some(n)) if n > 0 => Err(ApiError::invalid(
                "top_logprobs",
                "'top_logprobs' needs 'logprobs': true",
            )),
            (false, _) => Ok(None),
        }
    }

    /// Completions: `logprobs: N` asks for the chosen tokens' and N alternatives.
    pub fn completion_logprobs(&self) -> Result<Option<u8>, ApiError> {
        match &self.logprobs {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => top("logprobs", n.as_i64()),
            Some(_) => Err(ApiError::invalid(
                "logprobs",
                "'logprobs' must be an integer (how many alternatives per token) on completions",
            )),
        }
    }
}

fn top(param: &'static str, n: Option<i64>) -> Result<Option<u8>, ApiError> {
    match n {
        None => Ok(None),
        Some(n) if (0..=i64::from(MAX_TOP_LOGPROBS)).contains(&n) => Ok(Some(n as u8)),
        Some(n) => Err(ApiError::invalid(
            param,
            format!("'{param}' must be between 0 and {MAX_TOP_LOGPROBS}, got {n}"),
        )),
    }
}

/// Chat's `logprobs` object.
pub fn chat(list: &[TokenLogprob]) -> Value {
    json!({ "content": crate::generation::logprob_entries(list), "refusal": null })
}

/// Completions' `logprobs` object; `offset` is where the first token's text starts.
pub fn completion(list: &[TokenLogprob], offset: usize) -> Value {
    let mut at = offset;
    let mut text_offset = Vec::with_capacity(list.len());
    for t in list {
        text_offset.push(at);
        at += t.token.chars().count();
    }
    let top: Vec<Value> = list
        .iter()
        .map(|t| {
            let mut m = Map::new();
            for (token, _, logprob) in &t.top {
                m.entry(token.clone()).or_insert(json!(logprob));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "tokens": list.iter().map(|t| t.token.clone()).collect::<Vec<_>>(),
        "token_logprobs": list.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": top,
        "text_offset": text_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> CommonParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn chat_and_completion_requests_are_read_and_checked() {
        assert_eq!(params(json!({})).chat_logprobs().unwrap(), None);
        assert_eq!(
            params(json!({"logprobs": true})).chat_logprobs().unwrap(),
            Some(0)
        );
        assert_eq!(
            params(json!({"logprobs": true, "top_logprobs": 5}))
                .chat_logprobs()
                .unwrap(),
            Some(5)
        );
        assert_eq!(
            params(json!({"logprobs": false, "top_logprobs": 0}))
                .chat_logprobs()
                .unwrap(),
            None
        );
        for bad in [
            json!({"top_logprobs": 3}),
            json!({"logprobs": true, "top_logprobs": 21}),
            json!({"logprobs": 2}),
        ] {
            assert!(params(bad.clone()).chat_logprobs().is_err(), "{bad}");
        }
        assert_eq!(
            params(json!({"logprobs": 3}))
                .completion_logprobs()
                .unwrap(),
            Some(3)
        );
        assert!(params(json!({"logprobs": true}))
            .completion_logprobs()
            .is_err());
        assert!(params(json!({"logprobs": -1}))
            .completion_logprobs()
            .is_err());
    }

    #[test]
    fn shapes_follow_openai() {
        let list = vec![TokenLogprob {
            token: "Hi".into(),
            bytes: b"Hi".to_vec(),
            logprob: -0.5,
            top: vec![
                ("Hi".into(), b"Hi".to_vec(), -0.5),
                ("Hello".into(), b"Hello".to_vec(), -1.5),
            ],
        }];
        let c = chat(&list);
        assert_eq!(c["content"][0]["token"], "Hi");
        assert_eq!(c["content"][0]["bytes"], json!([72, 105]));
        assert_eq!(c["content"][0]["top_logprobs"][1]["token"], "Hello");
        let p = completion(&list, 4);
        assert_eq!(p["tokens"], json!(["Hi"]));
        assert_eq!(p["text_offset"], json!([4]));
        assert_eq!(p["top_logprobs"][0]["Hello"], -1.5);
    }
}
