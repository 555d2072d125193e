//! After a decode: sampling, streaming the text, finishing; and failed decodes.

use std::sync::atomic::Ordering;
use std::time::Instant;

use edgellm_backend::{BackendError, Event, FinishReason, Timings, Usage};

use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::calls::Scan;
use super::slot::AwaitingCall;
use super::Scheduler;
use crate::batch::{self, Part};
use crate::decoder::Utf8Decoder;
use crate::repeat::LoopGuard;
use crate::sampler;
use crate::stop::StopCheck;

impl Scheduler<'_> {
    /// Sample the next token of slot `index` and send its text.
    pub(super) fn sample(&mut self, index: usize, idx: i32) {
        let vocab = self.model.vocab();
        let Some(active) = self.slots[index].active.as_mut() else {
            return;
        };
        let token = if active.fast_greedy {
            sampler::argmax(self.ctx.get_logits_ith(idx))
        } else {
            active.sampler.sample(&self.ctx, idx)
        };
        active.first_token.get_or_insert_with(Instant::now);
        if vocab.is_eog(token) {
            return self.finish(index, FinishReason::Stop, true);
        }
        if let Some(top) = active.params.logprobs {
            let logprob =
                crate::logprobs::of(&vocab, self.ctx.get_logits_ith(idx), token, top.into());
            active.send(Event::Logprob(logprob));
        }
        active.generated += 1;
        self.shared
            .counters
            .generated_tokens
            .fetch_add(1, Ordering::Relaxed);
        let piece = vocab.token_to_piece(token, false, None);
        if let Some(calls) = active.calls.as_mut() {
            calls.record(token, &piece);
        }
        let text = active.decoder.push(&piece);
        // A tool call is not content: it is looked for before stop strings.
        let text = match active.calls.as_mut().map(|c| c.scan(text.clone())) {
            None => text,
            Some(Scan::Content(t)) => t,
            Some(Scan::InCall) => String::new(),
            Some(Scan::Starts { content, at }) => {
                if self.send_content(index, &content) {
                    return self.finish(index, FinishReason::Stop, false);
                }
                // Content ends where the call starts: release what the stop matcher holds.
                if let Some(active) = self.slots[index].active.as_mut() {
                    let held = active.stop.finish();
                    if !held.is_empty() {
                        active.send(Event::Text(held));
                    }
                }
                return self.start_call(index, token, at);
            }
        };
        if self.send_content(index, &text) {
            return self.finish(index, FinishReason::Stop, false);
        }
        self.next(index, token);
    }

    /// Send content through the stop matcher. Returns whether a stop string matched.
    fn send_content(&mut self, index: usize, text: &str) -> bool {
        let Some(active) = self.slots[index].active.as_mut() else {
            return false;
        };
        let (out, stopped) = match active.stop.push(text) {
            StopCheck::Continue(t) => (t, false),
            StopCheck::Stopped(t) => (t, true),
        };
        if !out.is_empty() {
            active.send(Event::Text(out));
        }
        stopped
    }

    /// After a sampled token: end on the limits or a loop, else decode it next step.
    fn next(&mut self, index: usize, token: LlamaToken) {
        let seq = self.slots[index].seq;
        let Some(active) = self.slots[index].active.as_mut() else {
            return;
        };
        if let Some(found) = active.guard.as_mut().and_then(|g| g.push(token.0)) {
            self.shared
                .counters
                .loops_stopped
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                slot = seq,
                generated = active.generated,
                repeated_tokens = found.span,
                period = found.period,
                "answer ended: it keeps repeating a stretch of {} token(s) (--loop-guard)",
                found.period
            );
            return self.finish(index, FinishReason::Length, true);
        }
        if active.generated >= active.max_tokens || !self.room_for_token(index) {
            return self.finish(index, FinishReason::Length, true);
        }
        if let Some(active) = self.slots[index].active.as_mut() {
            active.pending = Some(token);
        }
    }

    /// A tool call starts `at` bytes into the generated text: roll the slot back to the token
    /// holding that byte and go on under the call grammar (see `calls`). A call that starts
    /// at a token boundary (Qwen's `<tool_call>` is one token) uses the grammar compiled at
    /// submit; any other is compiled off the engine thread while the slot sits out.
    fn start_call(&mut self, index: usize, token: LlamaToken, at: usize) {
        let constraints = self.shared.loaded.get().map(|l| l.constraints());
        let seq = self.slots[index].seq;
        let Some(active) = self.slots[index].active.as_mut() else {
            return;
        };
        let Some(calls) = active.calls.as_mut() else {
            return;
        };
        let prefix = calls.prefix_at(at);
        if prefix.is_empty() {
            if let Some(grammar) = active.call_grammar.take() {
                return self.enter_call(index, token, at, Ok(grammar));
            }
        }
        match constraints {
            Some(Ok(c)) => {
                tracing::debug!(slot = seq, prefix = %prefix, "tool call starts inside a token: its grammar is compiled off the engine thread");
                let grammar = c.calls_in_background(calls.tools.clone(), prefix);
                active.awaiting = Some(AwaitingCall { grammar, token, at });
            }
            Some(Err(e)) => self.enter_call(index, token, at, Err(e.to_string())),
            None => self.enter_call(index, token, at, Err("the model is not loaded".into())),
        }
    }

    /// Go on with the slots whose call grammar has arrived. Returns whether a slot still
    /// waits for one.
    pub(super) fn resume_calls(&mut self) -> bool {
        let mut waiting = false;
        for index in 0..self.slots.len() {
            let Some(active) = self.slots[index].active.as_mut() else {
                continue;
            };
            let Some(wait) = active.awaiting.as_ref() else {
                continue;
            };
            let result = match wait.grammar.try_recv() {
                Ok(result) => result,
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    waiting = true;
                    continue;
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    Err("the grammar could not be compiled".into())
                }
            };
            let Some(wait) = active.awaiting.take() else {
                continue;
            };
            self.enter_call(index, wait.token, wait.at, result);
        }
        waiting
    }

    /// Enter the call under `grammar`, or without one when it could not be built.
    fn enter_call(
        &mut self,
        index: usize,
        token: LlamaToken,
        at: usize,
        grammar: Result<LlamaSampler, String>,
    ) {
        let slot = &mut self.slots[index];
        let Some(active) = slot.active.as_mut() else {
            return;
        };
        let Some(calls) = active.calls.as_mut() else {
            return;
        };
        let grammar = match grammar {
            Ok(g) => g,
            Err(why) => {
                tracing::warn!(error = %why, "tool call grammar unavailable; the call is not constrained");
                calls.enter_unconstrained(at);
                return self.next(index, token);
            }
        };
        let rewind = calls.rewind(at);
        let history: Vec<LlamaToken> = active
            .prompt
            .iter()
            .chain(calls.tokens())
            .copied()
            .collect();
        active.sampler = sampler::build(self.model, &active.params, &history, Some(grammar));
        active.fast_greedy = false;
        active.generated = rewind.keep;
        active.decoder = Utf8Decoder::default();
        active.guard = LoopGuard::configured(self.shared.config.loop_guard);
        // Decode the last kept token again: its logits are where the call begins.
        let last = history[history.len() - 1];
        active.pending = Some(last);
        let want = history.len() - 1;
        if slot.trim(&mut self.ctx, want) != want {
            return self.fail(
                index,
                "the KV cache could not be rolled back for a tool call",
            );
        }
        tracing::debug!(slot = slot.seq, kept = rewind.keep, "tool call started");
    }

    pub(super) fn fail(&mut self, index: usize, why: &str) {
        if let Some(active) = self.slots[index].active.take() {
            active.send(Event::Error(BackendError::Internal(why.to_owned())));
        }
    }

    pub(super) fn finish(&mut self, index: usize, reason: FinishReason, flush: bool) {
        let Some(mut active) = self.slots[index].active.take() else {
            return;
        };
        let in_call = active.calls.as_ref().is_some_and(|c| c.in_call());
        if flush {
            let tail = active.decoder.finish();
            if in_call {
                if let Some(calls) = active.calls.as_mut() {
                    calls.push_tail(&tail);
                }
            } else {
                let mut text = tail;
                if let Some(calls) = active.calls.as_mut() {
                    text = match calls.scan(text) {
                        Scan::Content(t) => t,
                        Scan::InCall => String::new(),
                        Scan::Starts { content, .. } => content,
                    };
                    text.push_str(&calls.finish().unwrap_or_default());
                }
                let (StopCheck::Continue(mut rest) | StopCheck::Stopped(mut rest)) =
                    active.stop.push(&text);
                rest.push_str(&active.stop.finish());
                if !rest.is_empty() {
                    active.send(Event::Text(rest));
                }
            }
        }
        // An answer that ends inside a call ends with the calls, parsed here once; a call
        // the model did not finish (max_tokens, the context) is returned as text.
        let mut reason = reason;
        if in_call {
            if let Some(calls) = active.calls.as_mut() {
                match calls.end_call(reason == FinishReason::Stop) {
                    Ok(list) => {
                        active.send(Event::ToolCalls(list));
                        reason = FinishReason::ToolCalls;
                    }
                    Err(text) => {
                        if !text.is_empty() {
                            active.send(Event::Text(text));
                        }
                    }
                }
            }
        }
        let first = active.first_token.unwrap_or_else(Instant::now);
        let timings = Timings {
            queue_us: active.queue_us,
            prompt_us: first.duration_since(active.assigned).as_micros() as u64,
            generation_us: first.elapsed().as_micros() as u64,
        };
        let usage = Usage {
            prompt_tokens: active.prompt.len(),
            completion_tokens: active.generated,
            cached_tokens: active.reused,
        };
        let stop_sequence = match reason {
            FinishReason::Stop => active.stop.matched().map(str::to_owned),
            _ => None,
        };
        active.send(Event::Done {
            finish_reason: reason,
            usage,
            timings,
            stop_sequence,
        });
    }
}

impl batch::Decode for Scheduler<'_> {
    fn decode(&mut self, parts: &[Part]) -> Result<(), String> {
        self.batch.clear();
        for part in parts {
            let last = part.tokens.len() - 1;
            for (i, &token) in part.tokens.iter().enumerate() {
                // The last token, and with a draft the token before it and every drafted one.
                let logits = part.logits && i + part.draft >= last;
                self.batch
                    .add(token, part.pos + i as i32, &[part.seq], logits)
                    .map_err(|e| e.to_string())?;
            }
        }
        let started = Instant::now();
        let result = self.ctx.decode(&mut self.batch);
        if result.is_ok() && parts.iter().all(|p| !p.prompt) {
            let tokens = parts.iter().map(|p| p.tokens.len()).sum();
            self.step_cost
                .observe(tokens, started.elapsed().as_secs_f64());
        }
        if let Err(e) = result {
            // llama.cpp removes only the failed micro-batch from the KV cache; put every
            // sequence of this batch back where it was before the step.
            for part in parts {
                self.slots[part.slot].trim(&mut self.ctx, part.pos as usize);
            }
            return Err(e.to_string());
        }
        Ok(())
    }

    fn decoded(&mut self, parts: &[Part]) {
        for part in parts {
            let slot = &mut self.slots[part.slot];
            // Drafted tokens join the cache once accepted (`verify`).
            slot.cached
                .extend_from_slice(&part.tokens[..part.tokens.len() - part.draft]);
            if part.prompt {
                if let Some(active) = slot.active.as_mut() {
                    active.next_prompt += part.tokens.len();
                }
                self.shared
                    .counters
                    .processed_tokens
                    .fetch_add(part.tokens.len() as u64, Ordering::Relaxed);
            }
        }
        for (part, idx) in parts.iter().zip(batch::logit_indices(parts)) {
            if !part.logits {
                continue;
            }
            if part.draft > 0 {
                self.verify(part, idx);
            } else {
                self.sample(part.slot, idx);
                self.observe_shadow(part.slot);
            }
        }
    }

    fn failed(&mut self, part: &Part, why: &str) {
        tracing::error!(
            error = why,
            slot = part.seq,
            "decode failed; failing this request only"
        );
        let slot = &mut self.slots[part.slot];
        if let Some(active) = slot.active.take() {
            active.send(Event::Error(BackendError::Internal(format!(
                "the model could not process this request: {why}"
            ))));
        }
    }
}
