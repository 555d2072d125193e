//! What the engine sends back for one request.

use crate::BackendError;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// End-of-generation token or a stop string.
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
    /// The answer ended with tool calls.
    ToolCalls,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
        }
    }
}

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Prompt tokens served from the slot's KV cache instead of being processed.
    pub cached_tokens: usize,
}

/// Where the time of one request went, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// From submission until a slot took the request.
    pub queue_us: u64,
    /// Prompt processing.
    pub prompt_us: u64,
    /// Generation after the first token.
    pub generation_us: u64,
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    /// A JSON object.
    pub arguments: serde_json::Value,
}

/// A generated token's log probability (natural log, under the model's own distribution:
/// the softmax of its logits), with the most likely alternatives at its position.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// The token's text (lossy where it is part of a multi-byte character).
    pub token: String,
    pub bytes: Vec<u8>,
    pub logprob: f32,
    /// The `top_logprobs` most likely tokens, most likely first: (text, bytes, logprob).
    pub top: Vec<(String, Vec<u8>, f32)>,
}

/// One event of a request's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A slot took the request; the prompt has this many tokens.
    Started { prompt_tokens: usize },
    /// A piece of generated text (always whole UTF-8 characters).
    Text(String),
    /// With [`crate::SamplingParams::logprobs`]: a sampled token's log probability, sent
    /// before the `Text` that carries its text (tokens whose text is never sent, such as a
    /// stop string's or a call's, have theirs dropped by the reader).
    Logprob(TokenLogprob),
    /// The answer's tool calls, complete and parsed by the engine (no layer above it knows
    /// the model's call syntax). Sent once, after the last `Text`, and followed by `Done`
    /// with [`FinishReason::ToolCalls`]. A call the model did not finish (cut off by
    /// `max_tokens`, say) is not sent as one: its text comes as `Text` and the answer ends
    /// with `Stop` or `Length`.
    ToolCalls(Vec<ToolCall>),
    /// Generation ended normally.
    Done {
        finish_reason: FinishReason,
        usage: Usage,
        timings: Timings,
        /// The stop string that ended it, when one did (its text is not sent).
        stop_sequence: Option<String>,
    },
    /// Generation failed; no further events follow.
    Error(BackendError),
}
