//! A slot (one sequence of the batch) and the request it serves.

use std::time::Instant;

use edgellm_backend::{Event, SamplingParams};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc;

use crate::decoder::Utf8Decoder;
use crate::repeat::LoopGuard;
use crate::speculate::Acceptance;
use crate::stop::StopMatcher;

use super::calls::CallState;

/// One sequence of the batch, with the tokens its KV cache holds.
pub(super) struct Slot {
    pub(super) seq: i32,
    pub(super) cached: Vec<LlamaToken>,
    pub(super) active: Option<Active>,
}

impl Slot {
    /// Keep the first `keep` cached tokens and free the KV cells after them. Returns how many
    /// are kept: 0 when llama.cpp cannot cut the sequence there and it is cleared instead.
    pub(super) fn trim(&mut self, ctx: &mut LlamaContext<'_>, keep: usize) -> usize {
        let keep = keep.min(self.cached.len());
        let seq = Some(self.seq as u32);
        let cut = ctx
            .clear_kv_cache_seq(seq, Some(keep as u32), None)
            .unwrap_or(false);
        let keep = if cut {
            keep
        } else {
            let _ = ctx.clear_kv_cache_seq(seq, None, None);
            0
        };
        self.cached.truncate(keep);
        keep
    }
}

/// A tool call that waits for its grammar.
pub(super) struct AwaitingCall {
    pub(super) grammar: std::sync::mpsc::Receiver<Result<LlamaSampler, String>>,
    /// The token where the call was found, and the byte offset of its start.
    pub(super) token: LlamaToken,
    pub(super) at: usize,
}

/// The request a slot is serving.
pub(super) struct Active {
    pub(super) events: mpsc::Sender<Event>,
    pub(super) prompt: Vec<LlamaToken>,
    /// Index of the next prompt token to decode.
    pub(super) next_prompt: usize,
    /// Sampled, sent, not yet decoded.
    pub(super) pending: Option<LlamaToken>,
    pub(super) sampler: LlamaSampler,
    /// Plain greedy: take the argmax of the logits instead of running `sampler`.
    pub(super) fast_greedy: bool,
    /// Kept to rebuild the sampler when a tool call starts.
    pub(super) params: SamplingParams,
    /// When the request offers tools.
    pub(super) calls: Option<CallState>,
    /// The call grammar compiled at submit (for a call that starts at a token boundary).
    pub(super) call_grammar: Option<LlamaSampler>,
    /// A call has started and its grammar is being compiled off the engine thread; the slot
    /// sits out the steps until it arrives.
    pub(super) awaiting: Option<AwaitingCall>,
    /// How well this request's drafts are accepted; `None` when it is not speculated on
    /// (requests offering tools: a call's start rolls the slot back).
    pub(super) spec: Option<Acceptance>,
    pub(super) decoder: Utf8Decoder,
    pub(super) stop: StopMatcher,
    pub(super) generated: usize,
    pub(super) max_tokens: usize,
    /// Ends the answer once it repeats itself (`--loop-guard`); `None` when off.
    pub(super) guard: Option<LoopGuard>,
    pub(super) reused: usize,
    pub(super) queue_us: u64,
    pub(super) assigned: Instant,
    pub(super) first_token: Option<Instant>,
}

impl Active {
    pub(super) fn send(&self, event: Event) {
        // The channel holds max_tokens plus headroom, so it is never full; a closed
        // channel is noticed (and the request cancelled) before the next step.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
            tracing::warn!("event channel full; dropping an event");
        }
    }
}
