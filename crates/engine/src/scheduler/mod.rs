//! The engine thread: slots, continuous batching, prefix reuse and cancellation.
//!
//! Each turn of the loop admits queued requests into free slots, then decodes one batch
//! holding the next token of every generating slot plus prompt chunks of slots still
//! reading their prompt (bounded by the batch size, so one long prompt cannot freeze the
//! other streams). A slot keeps its KV cache after a request; a new request goes to the free
//! slot sharing the longest token prefix with it, and only the rest is processed.
//! A request whose receiver was dropped is cancelled before the next decode step, and the
//! cells of what it generated are freed.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod calls;
mod output;
mod room;
mod slot;
mod speculation;

use edgellm_backend::{Event, SamplingParams, Tools};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc;

use crate::batch::{self, Part};
use crate::decoder::Utf8Decoder;
use crate::embed::{EmbedJob, EmbedTask, Embedder};
use crate::repeat::LoopGuard;
use crate::shared::{LoadState, Loaded, QueueTicket, Shared};
use crate::speculate::{Acceptance, StepCost};
use crate::stop::StopMatcher;
use crate::{load, sampler};
use calls::CallState;
use slot::{Active, Slot};

/// How long an idle engine waits for work before it beats its heartbeat again.
const IDLE_TICK: Duration = Duration::from_millis(500);

/// Most prompt tokens one step takes while other slots are generating: ~0.6 s of a
/// 2-core x86 machine, so a long prompt never holds the other streams' next token longer.
const PROMPT_BESIDE_STREAMS: usize = 64;

/// How often an engine whose every slot waits for a tool-call grammar looks again.
const GRAMMAR_POLL: Duration = Duration::from_millis(2);

/// What the engine thread is sent.
#[derive(Debug)]
pub(crate) enum Work {
    Generate(Box<Job>),
    Embed(EmbedJob),
}

/// A queued request, already tokenised and checked against the context size.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) tokens: Vec<LlamaToken>,
    pub(crate) params: SamplingParams,
    pub(crate) max_tokens: usize,
    pub(crate) events: mpsc::Sender<Event>,
    pub(crate) submitted: Instant,
    /// A compiled constraint (JSON schema, or a forced tool call) for the whole answer.
    pub(crate) constraint: Option<LlamaSampler>,
    /// With `tool_choice: auto`, the call grammar for a call starting at a token boundary.
    pub(crate) call_grammar: Option<LlamaSampler>,
    /// Tools offered; `forced` when the answer must be a call.
    pub(crate) tools: Option<(Tools, bool)>,
    /// Counts against `--queue` until released (see [`QueueTicket`]).
    pub(crate) ticket: QueueTicket,
}

/// Entry point of the engine thread: load, then serve until every handle is gone.
pub(crate) fn thread_main(shared: &Arc<Shared>, size: u64, jobs: Receiver<Work>) {
    let fail = |why: String| {
        tracing::error!(error = %why, "engine failed");
        shared.state.send_replace(LoadState::Failed(why));
    };
    let t0 = Instant::now();
    let loaded = match load::load_model(&shared.config, size).and_then(|model| {
        let template = load::chat_template(&model)?;
        let embedding = load::load_embedding_model(&shared.config)?.map(Arc::new);
        let info = load::model_info(&model, embedding.as_deref(), &shared.config, size);
        Ok(Loaded {
            model: Arc::new(model),
            embedding,
            template,
            info,
            load_secs: 0.0,
            constraints: std::sync::OnceLock::new(),
        })
    }) {
        Ok(loaded) => loaded,
        Err(e) => return fail(e.to_string()),
    };
    let model = Arc::clone(&loaded.model);
    let embedding = loaded.embedding.clone();
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
    Scheduler::new(&model, embedding.as_deref(), ctx, shared).run(&jobs);
    tracing::info!("engine stopped");
}

struct Scheduler<'m> {
    model: &'m LlamaModel,
    /// The dedicated embedding model, if any.
    embedding: Option<&'m LlamaModel>,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    slots: Vec<Slot>,
    /// Jobs taken off the channel, waiting for a slot (oldest first).
    waiting: VecDeque<Job>,
    /// KV cells of the context (shared by all slots unless `--kv-unified off`).
    n_ctx: usize,
    n_batch: usize,
    n_ubatch: usize,
    shared: &'m Shared,
    /// Created on the first embedding request.
    embedder: Option<Result<Embedder<'m>, String>>,
    /// Embedding requests, oldest first; the first gets one chunk per turn.
    embeds: VecDeque<EmbedTask>,
    /// What one more token in a decode batch costs (decides how much to draft).
    step_cost: StepCost,
}

impl<'m> Scheduler<'m> {
    fn new(
        model: &'m LlamaModel,
        embedding: Option<&'m LlamaModel>,
        ctx: LlamaContext<'m>,
        shared: &'m Shared,
    ) -> Self {
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
            embedding,
            ctx,
            batch: LlamaBatch::new(cfg.batch_size as usize, cfg.parallel as i32),
            slots,
            waiting: VecDeque::new(),
            n_ctx: cfg.ctx_size as usize,
            n_batch: cfg.batch_size as usize,
            n_ubatch: cfg.ubatch_size as usize,
            shared,
            embedder: None,
            embeds: VecDeque::new(),
            step_cost: StepCost::default(),
        }
    }

    fn run(&mut self, jobs: &Receiver<Work>) {
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
            let embeds = self.embeds.len() as u64;
            self.shared.embeds.store(embeds, Ordering::Relaxed);
            if busy == 0 && self.embeds.is_empty() && !open {
                return;
            }
            if busy > 0 {
                self.step();
            }
            // One chunk of embedding work per turn, between decode steps.
            self.embed_step();
            if busy > 0 || !self.embeds.is_empty() {
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

    /// Take every job off the channel, drop those whose client left (so they stop counting
    /// against `--queue` at once, not when a slot frees), and move the oldest into free
    /// slots. Blocks (with a heartbeat tick) only when idle. Returns false once every handle
    /// is gone.
    fn admit(&mut self, jobs: &Receiver<Work>) -> bool {
        let idle = self.slots.iter().all(|s| s.active.is_none())
            && self.waiting.is_empty()
            && self.embeds.is_empty();
        let mut open = true;
        if idle {
            match jobs.recv_timeout(IDLE_TICK) {
                Ok(work) => self.take(work),
                Err(RecvTimeoutError::Timeout) => return true,
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        }
        while open {
            match jobs.try_recv() {
                Ok(work) => self.take(work),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        let shared = self.shared;
        let mut departed = 0;
        self.waiting.retain(|job| {
            let gone = job.events.is_closed();
            // A `submit` may have released (and counted) it already.
            if gone && job.ticket.release(shared) {
                shared.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                departed += 1;
            }
            !gone
        });
        if departed > 0 {
            tracing::debug!(departed, "dropped queued requests whose client left");
        }
        while self.slots.iter().any(|s| s.active.is_none()) {
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            if !self.room_for(&job) {
                // The running requests hold the cells it needs; it goes first when they end.
                self.waiting.push_front(job);
                break;
            }
            let _ = job.ticket.release(self.shared);
            self.assign(job);
        }
        open || !self.waiting.is_empty()
    }

    /// Queue a generation or an embedding request.
    fn take(&mut self, work: Work) {
        match work {
            Work::Generate(job) => self.waiting.push_back(*job),
            Work::Embed(job) => self.embeds.push_back(EmbedTask::new(job)),
        }
    }

    /// Embed one chunk of the oldest embedding request whose client is still there; answer
    /// it when its last input is done.
    fn embed_step(&mut self) {
        let shared = self.shared;
        self.embeds.retain(|task| {
            let gone = task.job.reply.is_closed();
            if gone {
                if task.job.ticket.release(shared) || task.started() {
                    shared.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                }
                tracing::info!("client left; embedding request cancelled");
            }
            !gone
        });
        let Some(task) = self.embeds.front_mut() else {
            return;
        };
        let _ = task.job.ticket.release(shared);
        let (model, dedicated) = match self.embedding {
            Some(m) => (m, true),
            None => (self.model, false),
        };
        let n_ctx = shared
            .loaded
            .get()
            .map_or(crate::embed::MAX_TOKENS, |l| l.info.n_ctx_embedding);
        let embedder = self
            .embedder
            .get_or_insert_with(|| Embedder::new(model, dedicated, n_ctx, &shared.config));
        let outcome = match embedder {
            Ok(e) => e.step(task).map(|()| task.result()),
            Err(why) => Err(edgellm_backend::BackendError::Unavailable(why.clone())),
        };
        let reply = match outcome {
            Ok(None) => return,
            Ok(Some(done)) => Ok(done),
            Err(e) => Err(e),
        };
        if let Some(task) = self.embeds.pop_front() {
            let _ = task.job.reply.send(reply);
        }
    }

    /// Put a job into the free slot whose cache shares the longest prefix with its prompt.
    fn assign(&mut self, job: Job) {
        let (index, lcp) = self.best_slot(&job.tokens);
        // At least one prompt token must be decoded to get logits for the first sample.
        let slot = &mut self.slots[index];
        let keep = slot.trim(&mut self.ctx, lcp.min(job.tokens.len() - 1));
        let shared = self.shared;
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        shared
            .counters
            .prompt_tokens
            .fetch_add(job.tokens.len() as u64, Ordering::Relaxed);
        shared
            .counters
            .reused_tokens
            .fetch_add(keep as u64, Ordering::Relaxed);
        let active = Active {
            fast_greedy: sampler::fast_greedy(&job.params, job.constraint.is_some()),
            sampler: sampler::build(self.model, &job.params, &job.tokens, job.constraint),
            stop: StopMatcher::new(job.params.stop.clone()),
            params: job.params,
            spec: job.tools.is_none().then(Acceptance::default),
            calls: job
                .tools
                .map(|(tools, forced)| CallState::new(tools, forced)),
            events: job.events,
            call_grammar: job.call_grammar,
            awaiting: None,
            next_prompt: keep,
            prompt: job.tokens,
            pending: None,
            decoder: Utf8Decoder::default(),
            generated: 0,
            max_tokens: job.max_tokens,
            guard: LoopGuard::configured(self.shared.config.loop_guard),
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
        let waiting = self.resume_calls();
        let parts = self.plan();
        if parts.is_empty() && waiting {
            // Every active slot waits for a call grammar: do not spin.
            std::thread::sleep(GRAMMAR_POLL);
        }
        if self.shared.config.kv_unified {
            return batch::decode_isolated(self, &parts);
        }
        // With a cache per slot, llama.cpp splits a batch into micro-batches with an equal
        // share of each sequence, so a prompt decoded beside other streams would be cut to
        // their token count (1, or 1 + a draft), and round differently with it. Prompt
        // chunks go in a decode of their own: a prompt reads the same whatever runs beside it
        // (`--kv-unified off` promises answers independent of the other streams).
        let (prompts, tokens): (Vec<Part>, Vec<Part>) = parts.into_iter().partition(|p| p.prompt);
        batch::decode_isolated(self, &tokens);
        batch::decode_isolated(self, &prompts);
    }

    /// This step's parts: generating slots first, one token each (plus a draft when
    /// speculating pays), so streams keep flowing; then prompt chunks with what is left of the
    /// batch.
    fn plan(&mut self) -> Vec<Part> {
        let mut parts = Vec::new();
        let mut budget = self.n_batch;
        let mut drafting = self.drafting();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(token) = slot.active.as_mut().and_then(|a| a.pending.take()) else {
                continue;
            };
            if budget == 0 {
                if let Some(a) = slot.active.as_mut() {
                    a.pending = Some(token);
                }
                continue;
            }
            budget -= 1;
            let mut tokens = vec![token];
            if let Some(d) = drafting.as_mut() {
                tokens.extend(d.draft(index, slot, token, budget));
            }
            budget -= tokens.len() - 1;
            parts.push(Part {
                slot: index,
                seq: slot.seq,
                pos: slot.cached.len() as i32,
                draft: tokens.len() - 1,
                tokens,
                logits: true,
                prompt: false,
            });
        }
        // Beside streams that are generating, a step takes at most one micro-batch of prompt
        // (and no more than PROMPT_BESIDE_STREAMS), so their next token is never further away
        // than that. With a cache per slot the prompt is decoded on its own (see `step`), so
        // its chunk does not depend on how many tokens the others took either.
        if !parts.is_empty() {
            if !self.shared.config.kv_unified {
                budget = self.n_batch;
            }
            budget = budget.min(self.n_ubatch).min(PROMPT_BESIDE_STREAMS);
        }
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(active) = slot.active.as_ref() else {
                continue;
            };
            let left = active.prompt.len() - active.next_prompt;
            if active.first_token.is_some() || left == 0 || budget == 0 {
                continue;
            }
            let take = budget.min(left);
            budget -= take;
            let chunk = &active.prompt[active.next_prompt..active.next_prompt + take];
            parts.push(Part {
                slot: index,
                seq: slot.seq,
                pos: slot.cached.len() as i32,
                tokens: chunk.to_vec(),
                logits: take == left,
                prompt: true,
                draft: 0,
            });
        }
        parts
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
            self.shared
                .counters
                .cancelled
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(slot = slot.seq, "client left; request cancelled");
        }
    }
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
