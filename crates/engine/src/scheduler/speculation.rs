//! Speculative decoding in the scheduler (see `crate::speculate`): drafting for a step's
//! generating slots, and checking the drafts once the step is decoded.
//!
//! A slot's part is its sampled token followed by the draft, all with logits. After the
//! decode, the slot samples at each position in turn exactly as it would have without the
//! draft (same sampler, same order, so a seeded or constrained request draws the same), and
//! keeps going while the sampled token is the drafted one. The first mismatch is the slot's
//! next token; the KV cells of the drafted tokens after it are removed. So the output is the
//! one plain decoding gives, and a draft saves the steps of the tokens it got right.
//!
//! A slot drafts only while it is the only active slot. Beside other streams the batch
//! already shares each weight read among them, and a draft would change the shape of their
//! batch, which llama.cpp's CPU kernels round differently: their output would no longer be
//! byte-identical to what they give without speculation. Shadow drafts go on meanwhile.

use std::sync::atomic::Ordering;

use llama_cpp_2::token::LlamaToken;

use super::slot::Slot;
use super::Scheduler;
use crate::batch::Part;
use crate::speculate::lookup;

/// What this step may still draft.
pub(super) struct Drafting {
    /// One more token's share of a one-token step's time.
    cost: f32,
    /// No other slot is active (generating or reading its prompt).
    alone: bool,
    /// KV cells free for drafted tokens: one pool (unified cache) or per slot.
    free: Vec<usize>,
    unified: bool,
    /// `--draft-max`.
    max: usize,
}

impl Scheduler<'_> {
    /// How this step drafts; `None` with speculation off.
    pub(super) fn drafting(&self) -> Option<Drafting> {
        if !self.shared.spec_on.load(Ordering::Relaxed) {
            return None;
        }
        let active = self.slots.iter().filter(|s| s.active.is_some()).count();
        Some(Drafting {
            cost: self.step_cost.marginal(),
            alone: active == 1,
            free: (0..self.slots.len()).map(|i| self.free_cells(i)).collect(),
            unified: self.shared.config.kv_unified,
            max: self.shared.config.draft_max as usize,
        })
    }

    /// Sample slot `part.slot` at its token and at each drafted position while the drafted
    /// token is the one sampled; then drop the cells of the rejected rest. `last` is the
    /// batch index of the part's last token.
    pub(super) fn verify(&mut self, part: &Part, last: i32) {
        let first = last - part.draft as i32;
        let mut accepted = 0;
        let mut cut = false;
        for j in 0..=part.draft {
            self.sample(part.slot, first + j as i32);
            if j == part.draft {
                break;
            }
            let slot = &mut self.slots[part.slot];
            // Ended (end of generation, a stop string, max_tokens): the rest is not needed.
            let Some(active) = slot.active.as_mut() else {
                break;
            };
            let drafted = part.tokens[j + 1];
            if active.pending != Some(drafted) {
                cut = true;
                break;
            }
            // Already decoded with this step: its cell holds exactly this token.
            active.pending = None;
            slot.cached.push(drafted);
            accepted += 1;
        }
        let shared = self.shared;
        shared
            .counters
            .spec_drafted
            .fetch_add(part.draft as u64, Ordering::Relaxed);
        shared
            .counters
            .spec_accepted
            .fetch_add(accepted as u64, Ordering::Relaxed);
        let slot = &mut self.slots[part.slot];
        if let Some(spec) = slot.active.as_mut().and_then(|a| a.spec.as_mut()) {
            spec.record(accepted, cut);
        }
        if accepted < part.draft {
            let keep = slot.cached.len();
            if slot.trim(&mut self.ctx, keep) != keep {
                self.fail(part.slot, "the KV cache could not drop a rejected draft");
            }
        }
    }

    /// After a plain step: score the slot's shadow draft against the token it sampled.
    pub(super) fn observe_shadow(&mut self, index: usize) {
        if let Some(active) = self.slots[index].active.as_mut() {
            if let (Some(token), Some(spec)) = (active.pending, active.spec.as_mut()) {
                spec.observe(token);
            }
        }
    }
}

impl Drafting {
    /// The draft to decode after `token` (slot's last sampled token) in this step, at most
    /// `budget` tokens: the lookup's continuation, as long as it pays and the slot is alone.
    /// A draft not decoded is kept as the slot's shadow draft, to learn whether drafting pays.
    pub(super) fn draft(
        &mut self,
        index: usize,
        slot: &mut Slot,
        token: LlamaToken,
        budget: usize,
    ) -> Vec<LlamaToken> {
        let pool = if self.unified { 0 } else { index };
        let Some(active) = slot.active.as_mut() else {
            return Vec::new();
        };
        // The draft's last token is sampled at the part's last position; never past max_tokens.
        let left = active
            .max_tokens
            .saturating_sub(active.generated)
            .saturating_sub(1);
        let limit = self.max.min(budget).min(self.free[pool]).min(left);
        let Some(spec) = active.spec.as_mut() else {
            return Vec::new();
        };
        // Beside other streams nothing is drafted, and a shadow draft being scored would be
        // kept over a new one: the lookup would be thrown away.
        if limit == 0 || (!self.alone && spec.shadowing()) {
            return Vec::new();
        }
        let mut history = Vec::with_capacity(slot.cached.len() + 1);
        history.extend_from_slice(&slot.cached);
        history.push(token);
        let mut draft = lookup(&history, self.max);
        if draft.is_empty() {
            return draft;
        }
        let k = if self.alone {
            spec.choose(draft.len().min(limit), self.cost)
        } else {
            0
        };
        if k == 0 {
            spec.shadow(draft);
            return Vec::new();
        }
        spec.clear_shadow();
        draft.truncate(k);
        self.free[pool] -= k;
        draft
    }
}
