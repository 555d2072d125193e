//! After a decode: sampling, streaming the text, finishing; and failed decodes.

use std::sync::atomic::Ordering;
use std::time::Instant;

use edgellm_backend::{BackendError, Event, FinishReason, Timings, Usage};

use super::Scheduler;
use crate::batch::{self, Part};
use crate::stop::StopCheck;

impl Scheduler<'_> {
    /// Sample the next token of slot `index` and send its text.
    pub(super) fn sample(&mut self, index: usize, idx: i32) {
        let vocab = self.model.vocab();
        let slot = &mut self.slots[index];
        let Some(active) = slot.active.as_mut() else {
            return;
        };
        let token = active.sampler.sample(&self.ctx, idx);
        active.first_token.get_or_insert_with(Instant::now);
        if vocab.is_eog(token) {
            return self.finish(index, FinishReason::Stop, true);
        }
        active.generated += 1;
        self.shared.generated_tokens.fetch_add(1, Ordering::Relaxed);
        let text = active
            .decoder
            .push(&vocab.token_to_piece(token, false, None));
        match active.stop.push(&text) {
            StopCheck::Continue(text) => {
                if !text.is_empty() {
                    active.send(Event::Text(text));
                }
            }
            StopCheck::Stopped(text) => {
                if !text.is_empty() {
                    active.send(Event::Text(text));
                }
                return self.finish(index, FinishReason::Stop, false);
            }
        }
        if active.generated >= active.max_tokens || slot.cached.len() >= self.n_ctx_slot {
            return self.finish(index, FinishReason::Length, true);
        }
        active.pending = Some(token);
    }

    pub(super) fn finish(&mut self, index: usize, reason: FinishReason, flush: bool) {
        let Some(mut active) = self.slots[index].active.take() else {
            return;
        };
        if flush {
            let tail = active.decoder.finish();
            let (StopCheck::Continue(mut rest) | StopCheck::Stopped(mut rest)) =
                active.stop.push(&tail);
            rest.push_str(&active.stop.finish());
            if !rest.is_empty() {
                active.send(Event::Text(rest));
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
        active.send(Event::Done {
            finish_reason: reason,
            usage,
            timings,
        });
    }
}

impl batch::Decode for Scheduler<'_> {
    fn decode(&mut self, parts: &[Part]) -> Result<(), String> {
        self.batch.clear();
        for part in parts {
            let last = part.tokens.len() - 1;
            for (i, &token) in part.tokens.iter().enumerate() {
                let logits = part.logits && i == last;
                self.batch
                    .add(token, part.pos + i as i32, &[part.seq], logits)
                    .map_err(|e| e.to_string())?;
            }
        }
        if let Err(e) = self.ctx.decode(&mut self.batch) {
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
            slot.cached.extend_from_slice(&part.tokens);
            if part.prompt {
                if let Some(active) = slot.active.as_mut() {
                    active.next_prompt += part.tokens.len();
                }
                self.shared
                    .processed_tokens
                    .fetch_add(part.tokens.len() as u64, Ordering::Relaxed);
            }
        }
        for (part, idx) in parts.iter().zip(batch::logit_indices(parts)) {
            if part.logits {
                self.sample(part.slot, idx);
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
