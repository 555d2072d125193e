//! Sharing one KV cache among the slots.
//!
//! The context is one unified cache (llama.cpp's `kv_unified`): any request may use all of
//! it when the others do not need it. A request starts only when its prompt (after the
//! cached prefix it reuses) fits in the free cells, counting the caches that idle slots keep
//! for prefix reuse as free: they are cut back, the largest first, when cells are needed.
//! Cells promised to prompts still being read are kept for them, so a generating stream
//! cannot take them; a stream that finds no free cell ends with `length`.
//!
//! With `--kv-unified off` each slot has its own `ctx_size / parallel` cells instead: a prompt
//! that fits the per-request limit (checked on submit) always fits its slot, and a stream
//! ends with `length` when its own cells run out.

use super::{common_prefix, Job, Scheduler};

impl Scheduler<'_> {
    /// Cells held (cached tokens, and each sampled token about to be decoded) or promised
    /// (prompt tokens not read yet).
    pub(super) fn committed_cells(&self) -> usize {
        self.slots
            .iter()
            .map(|s| {
                s.cached.len()
                    + s.active.as_ref().map_or(0, |a| {
                        usize::from(a.pending.is_some()) + (a.prompt.len() - a.next_prompt)
                    })
            })
            .sum()
    }

    /// Cells held or promised by slot `index` alone.
    fn slot_cells(&self, index: usize) -> usize {
        let s = &self.slots[index];
        s.cached.len()
            + s.active.as_ref().map_or(0, |a| {
                usize::from(a.pending.is_some()) + (a.prompt.len() - a.next_prompt)
            })
    }

    /// Cells free for slot `index`: in its own stream, or in the shared cache.
    pub(super) fn free_cells(&self, index: usize) -> usize {
        if self.shared.config.kv_unified {
            self.n_ctx.saturating_sub(self.committed_cells())
        } else {
            self.shared
                .config
                .ctx_per_request()
                .saturating_sub(self.slot_cells(index))
        }
    }

    /// The free slot a job goes to and how many of its prompt tokens that slot has cached.
    pub(super) fn best_slot(&self, tokens: &[llama_cpp_2::token::LlamaToken]) -> (usize, usize) {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.active.is_none())
            .map(|(i, s)| (i, common_prefix(&s.cached, tokens)))
            .max_by_key(|&(i, lcp)| (lcp, std::cmp::Reverse(self.slots[i].cached.len())))
            .expect("called only when a slot is free")
    }

    /// Whether `job` can start now, cutting idle caches back if that makes room.
    pub(super) fn room_for(&mut self, job: &Job) -> bool {
        if !self.shared.config.kv_unified {
            return true;
        }
        let (index, lcp) = self.best_slot(&job.tokens);
        let keep = lcp.min(job.tokens.len() - 1);
        // Its own slot's cache beyond the shared prefix is freed when it starts.
        let freed = self.slots[index].cached.len() - keep;
        let need = job.tokens.len() - keep + 1;
        let free = (self.n_ctx + freed).saturating_sub(self.committed_cells());
        free >= need || self.make_room(need - free, Some(index))
    }

    /// Whether one more cell is free for slot `index`'s next token.
    pub(super) fn room_for_token(&mut self, index: usize) -> bool {
        if !self.shared.config.kv_unified {
            return self.free_cells(index) > 0;
        }
        self.committed_cells() < self.n_ctx || self.make_room(1, Some(index))
    }

    /// Cut idle slots' caches back (largest first, never slot `except`) until `need` more
    /// cells are free. Returns whether that was possible.
    fn make_room(&mut self, mut need: usize, except: Option<usize>) -> bool {
        let idle: usize = self
            .slots
            .iter()
            .enumerate()
            .filter(|&(i, s)| s.active.is_none() && Some(i) != except)
            .map(|(_, s)| s.cached.len())
            .sum();
        if idle < need {
            return false;
        }
        while need > 0 {
            let Some((i, len)) = self
                .slots
                .iter()
                .enumerate()
                .filter(|&(i, s)| s.active.is_none() && Some(i) != except)
                .map(|(i, s)| (i, s.cached.len()))
                .max_by_key(|&(_, len)| len)
                .filter(|&(_, len)| len > 0)
            else {
                return false;
            };
            let cut = need.min(len);
            let kept = self.slots[i].trim(&mut self.ctx, len - cut);
            need = need.saturating_sub(len - kept);
            tracing::debug!(
                slot = i,
                freed = len - kept,
                "cut an idle cache back for room"
            );
        }
        true
    }
}
