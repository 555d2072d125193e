//! The engine thread: slots, continuous batching, prefix reuse and cancellation.
//!
//! Each turn of the loop admits queued requests into free slots, then decodes one batch
//! holding the next token of every generating slot plus prompt chunks of slots still
//! reading their prompt (bounded by the batch size, so one long prompt cannot freeze the
//! other streams). A slot keeps its KV cache after a request; a new request goes to the free
//! slot sharing the longest token prefix with it, and only the rest is processed.
//! A request whose receiver was dropped is cancelled before the next decode step, and the
//! cells of what it generated are freed.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgellm_backend::{BackendError, Event, FinishReason, SamplingParams, Timings, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc;

use crate::decoder::Utf8Decoder;
use crate::handle::{LoadState, Loaded, Shared};
use crate::stop::{StopCheck, StopMatcher};
use crate::{load, sampler};

/// How long an idle engine waits for work before it beats its heartbeat again.
const IDLE_TICK: Duration = Duration::from_millis(500);

/// A queued request, already tokenised and checked against the context size.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) tokens: Vec<LlamaToken>,
    pub(crate) params: SamplingParams,
    pub(crate) max_tokens: usize,
    pub(crate) events: mpsc::Sender<Event>,
    pub(crate) submitted: Instant,
}

/// Entry point of the engine thread: load, then serve until every handle is gone.
pub(crate) fn thread_main(shared: &Arc<Shared>, size: u64, jobs: Receiver<Job>) {
    let fail = |why: String| {
        tracing::error!(error = %why, "engine failed");
        shared.state.send_replace(LoadState::Failed(why));
    };
    let t0 = Instant::now();
    let loaded = match load::load_model(&shared.config, size).and_then(|model| {
        let template = load::chat_template(&model)?;
        let info = load::model_info(&model, &shared.config, size);
        Ok(Loaded {
            model: Arc::new(model),
            template,
            info,
            load_secs: 0.0,
        })
    }) {
        Ok(loaded) => loaded,
        Err(e) => return fail(e.to_string()),
    };
    let model = Arc::clone(&loaded.model);
    let ctx = match model.new_context(
        load::backend().expect("backend initialised by load"),
        load::context_params(&shared.config),
    ) {
        Ok(ctx) => ctx,
        Err(e) => {
            let cfg = &shared.config;
            return fail(
                crate::EngineError::Context {
                    ctx_size: cfg.ctx_size,
                    batch_size: cfg.batch_size,
                    reason: e.to_string(),
                }
                .to_string(),
            );
        }
    };
    let load_secs = t0.elapsed().as_secs_f64();
    tracing::info!(model = %loaded.info.id, load_secs, "model loaded");
    let _ = shared.loaded.set(Loaded {
        load_secs,
        ..loaded
    });
    shared.state.send_replace(LoadState::Ready);
    Scheduler::new(&model, ctx, shared).run(&jobs);
    tracing::info!("engine stopped");
}

/// One sequence of the batch, with the tokens its KV cache holds.
struct Slot {
    seq: i32,
    cached: Vec<LlamaToken>,
    active: Option<Active>,
}

impl Slot {
    /// Keep the first `keep` cached tokens and free the KV cells after them. Returns how many
    /// are kept: 0 when llama.cpp cannot cut the sequence there and it is cleared instead.
    fn trim(&mut self, ctx: &mut LlamaContext<'_>, keep: usize) -> usize {
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

/// The request a slot is serving.
struct Active {
    events: mpsc::Sender<Event>,
    prompt: Vec<LlamaToken>,
    /// Index of the next prompt token to decode.
    next_prompt: usize,
    /// Sampled, sent, not yet decoded.
    pending: Option<LlamaToken>,
    /// Where this slot's logits are in the current batch.
    batch_idx: Option<i32>,
    sampler: LlamaSampler,
    decoder: Utf8Decoder,
    stop: StopMatcher,
    generated: usize,
    max_tokens: usize,
    reused: usize,
    queue_us: u64,
    assigned: Instant,
    first_token: Option<Instant>,
}

impl Active {
    fn send(&self, event: Event) {
        // The channel holds max_tokens plus headroom, so it is never full; a closed
        // channel is noticed (and the request cancelled) before the next step.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
            tracing::warn!("event channel full; dropping an event");
        }
    }
}

struct Scheduler<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    slots: Vec<Slot>,
    n_ctx_slot: usize,
    n_batch: usize,
    shared: &'m Shared,
}

impl<'m> Scheduler<'m> {
    fn new(model: &'m LlamaModel, ctx: LlamaContext<'m>, shared: &'m Shared) -> Self {
        let cfg = &shared.config;
        let slots = (0..cfg.parallel as i32)
            .map(|seq| Slot {
                seq,
                cached: Vec::new(),
                active: None,
            })
            .collect();
        Self {
            model,
            ctx,
            batch: LlamaBatch::new(cfg.batch_size as usize, cfg.parallel as i32),
            slots,
            n_ctx_slot: (cfg.ctx_size / cfg.parallel) as usize,
            n_batch: cfg.batch_size as usize,
            shared,
        }
    }

    fn run(&mut self, jobs: &Receiver<Job>) {
        let mut open = true;
        loop {
            self.beat();
            let kv: usize = self.slots.iter().map(|s| s.cached.len()).sum();
            self.shared.kv_tokens.store(kv as u64, Ordering::Relaxed);
            if open {
                open = self.admit(jobs);
            }
            let busy = self.slots.iter().filter(|s| s.active.is_some()).count();
            self.shared.busy.store(busy as u64, Ordering::Relaxed);
            if busy == 0 && !open {
                return;
            }
            if busy > 0 {
                self.step();
                let pause = self.shared.step_pause_ms.load(Ordering::Relaxed);
                if pause > 0 {
                    std::thread::sleep(Duration::from_millis(pause));
                }
            }
        }
    }

    fn beat(&self) {
        let ms = self.shared.started.elapsed().as_millis() as u64;
        self.shared.heartbeat_ms.store(ms, Ordering::Relaxed);
    }

    /// Move queued jobs into free slots. Blocks (with a heartbeat tick) only when idle.
    /// Returns false once every handle is gone.
    fn admit(&mut self, jobs: &Receiver<Job>) -> bool {
        while self.slots.iter().any(|s| s.active.is_none()) {
            let idle = self.slots.iter().all(|s| s.active.is_none());
            let job = if idle {
                match jobs.recv_timeout(IDLE_TICK) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => return true,
                    Err(RecvTimeoutError::Disconnected) => return false,
                }
            } else {
                match jobs.try_recv() {
                    Ok(job) => job,
                    Err(TryRecvError::Empty) => return true,
                    Err(TryRecvError::Disconnected) => return false,
                }
            };
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
            if job.events.is_closed() {
                self.shared.cancelled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("dropped a queued request whose client left");
                continue;
            }
            self.assign(job);
        }
        true
    }

    /// Put a job into the free slot whose cache shares the longest prefix with its prompt.
    fn assign(&mut self, job: Job) {
        let (index, lcp) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.active.is_none())
            .map(|(i, s)| (i, common_prefix(&s.cached, &job.tokens)))
            .max_by_key(|&(i, lcp)| (lcp, std::cmp::Reverse(self.slots[i].cached.len())))
            .expect("admit only assigns when a slot is free");
        // At least one prompt token must be decoded to get logits for the first sample.
        let slot = &mut self.slots[index];
        let keep = slot.trim(&mut self.ctx, lcp.min(job.tokens.len() - 1));
        let shared = self.shared;
        shared.requests.fetch_add(1, Ordering::Relaxed);
        shared
            .prompt_tokens
            .fetch_add(job.tokens.len() as u64, Ordering::Relaxed);
        shared
            .reused_tokens
            .fetch_add(keep as u64, Ordering::Relaxed);
        let active = Active {
            sampler: sampler::build(self.model, &job.params, &job.tokens),
            stop: StopMatcher::new(job.params.stop),
            events: job.events,
            next_prompt: keep,
            prompt: job.tokens,
            pending: None,
            batch_idx: None,
            decoder: Utf8Decoder::default(),
            generated: 0,
            max_tokens: job.max_tokens,
            reused: keep,
            queue_us: job.submitted.elapsed().as_micros() as u64,
            assigned: Instant::now(),
            first_token: None,
        };
        active.send(Event::Started {
            prompt_tokens: active.prompt.len(),
        });
        tracing::debug!(
            slot = slot.seq,
            prompt = active.prompt.len(),
            reused = keep,
            "request started"
        );
        slot.active = Some(active);
    }

    /// One decode step over all active slots.
    fn step(&mut self) {
        self.cancel_departed();
        self.batch.clear();
        let mut budget = self.n_batch;
        // Generating slots first: one token each, so streams keep flowing.
        for slot in &mut self.slots {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            let Some(token) = active.pending.take() else {
                continue;
            };
            let pos = slot.cached.len() as i32;
            if self.batch.add(token, pos, &[slot.seq], true).is_err() {
                active.pending = Some(token);
                continue;
            }
            active.batch_idx = Some(self.batch.n_tokens() - 1);
            slot.cached.push(token);
            budget -= 1;
        }
        // Then prompt chunks with what is left of the batch.
        for slot in &mut self.slots {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            if active.first_token.is_some() || active.next_prompt >= active.prompt.len() {
                continue;
            }
            let take = budget.min(active.prompt.len() - active.next_prompt);
            for _ in 0..take {
                let i = active.next_prompt;
                let last = i + 1 == active.prompt.len();
                let pos = slot.cached.len() as i32;
                if self
                    .batch
                    .add(active.prompt[i], pos, &[slot.seq], last)
                    .is_err()
                {
                    break;
                }
                if last {
                    active.batch_idx = Some(self.batch.n_tokens() - 1);
                }
                slot.cached.push(active.prompt[i]);
                active.next_prompt += 1;
                budget -= 1;
                self.shared.processed_tokens.fetch_add(1, Ordering::Relaxed);
            }
        }
        if self.batch.n_tokens() == 0 {
            return;
        }
        if let Err(e) = self.ctx.decode(&mut self.batch) {
            self.fail_batch(&e.to_string());
            return;
        }
        for index in 0..self.slots.len() {
            let idx = self.slots[index]
                .active
                .as_mut()
                .and_then(|a| a.batch_idx.take());
            if let Some(idx) = idx {
                self.sample(index, idx);
            }
        }
    }

    /// Cancel requests whose client went away; their slot is free for the next request.
    /// The KV cells of the tokens it generated are freed; the prompt part it decoded stays
    /// cached, as a retry or the next turn of that chat starts with the same prompt.
    fn cancel_departed(&mut self) {
        for slot in &mut self.slots {
            let Some(active) = slot.active.as_ref() else {
                continue;
            };
            if !active.events.is_closed() {
                continue;
            }
            let keep = active.next_prompt;
            slot.active = None;
            slot.trim(&mut self.ctx, keep);
            self.shared.cancelled.fetch_add(1, Ordering::Relaxed);
            tracing::info!(slot = slot.seq, "client left; request cancelled");
        }
    }

    fn fail_batch(&mut self, why: &str) {
        tracing::error!(error = why, "decode failed");
        for slot in &mut self.slots {
            if let Some(active) = slot.active.take() {
                active.send(Event::Error(BackendError::Internal(why.to_owned())));
                slot.trim(&mut self.ctx, 0);
            }
        }
    }

    /// Sample the next token of slot `index` and send its text.
    fn sample(&mut self, index: usize, idx: i32) {
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

    fn finish(&mut self, index: usize, reason: FinishReason, flush: bool) {
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

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
