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

/// One event of a request's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A slot took the request; the prompt has this many tokens.
    Started { prompt_tokens: usize },
    /// A piece of generated text (always whole UTF-8 characters).
    Text(String),
    /// A piece of the tool-call part of the answer, in the model's own format (for Qwen
    /// `<tool_call>{"name": .., "arguments": {..}}</tool_call>`, or the bare object); every
    /// `Call` comes after the last `Text`, and the answer then ends with `ToolCalls`.
    Call(String),
    /// Generation ended normally.
    Done {
        finish_reason: FinishReason,
        usage: Usage,
        timings: Timings,
    },
    /// Generation failed; no further events follow.
    Error(BackendError),
}
