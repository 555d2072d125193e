//! [`EngineHandle`]: starts the engine thread and is the [`Backend`] the API talks to.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use edgellm_backend::{
    Backend, BackendError, EmbedReceiver, EngineStats, EventStream, GenerateRequest, ModelInfo,
    Prepared, Prompt, ToolChoice,
};
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, watch};

use crate::embed::{self, EmbedJob};
use crate::scheduler::{self, Job, Work};
pub use crate::shared::LoadState;
use crate::shared::{Counters, Loaded, QueueTicket, QueuedJob, Shared};
use crate::template::Piece;
use crate::{load, EngineConfig, EngineError};

/// Events a request's channel holds beyond one per token: `Started`, the final flush, `Done`.
const EVENT_HEADROOM: usize = 8;

/// Cheap to clone; the engine thread ends when the last handle is dropped and its
/// requests are finished.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    jobs: SyncSender<Work>,
    shared: Arc<Shared>,
}

impl EngineHandle {
    /// Check the model file, then start the engine thread, which loads the model.
    /// Returns at once; watch [`EngineHandle::state`] or await [`EngineHandle::wait_loaded`].
    pub fn spawn(mut config: EngineConfig) -> Result<Self, EngineError> {
        let size = load::check_model_file(&config.model_path)?;
        if let Some(budget) = config.ctx_auto {
            config.ctx_size = crate::context_size::resolve(&config, budget)?;
        }
        if let Some(path) = &config.embedding_model {
            load::check_model_file(path)?;
        }
        // `queued` bounds the live jobs; the channel also holds, until the engine's next
        // turn, jobs whose client already left (released from the count by `submit`).
        let (jobs, rx) = sync_channel((config.queue as usize).saturating_mul(2) + 16);
        let shared = Arc::new(Shared {
            loaded: OnceLock::new(),
            state: watch::Sender::new(LoadState::Loading),
            counters: Counters::default(),
            queued: AtomicU64::new(0),
            queued_jobs: std::sync::Mutex::new(Vec::new()),
            busy: AtomicU64::new(0),
            embeds: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            kv_tokens: AtomicU64::new(0),
            heartbeat_ms: AtomicU64::new(0),
            started: Instant::now(),
            step_pause_ms: AtomicU64::new(0),
            spec_on: AtomicBool::new(config.spec == crate::SpecMode::Lookup),
            config,
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("edgellm-engine".into())
            .stack_size(crate::PREP_STACK_BYTES)
            .spawn(move || {
                // Marks the engine stopped also when the thread unwinds.
                struct Stopped<'a>(&'a Shared);
                impl Drop for Stopped<'_> {
                    fn drop(&mut self) {
                        self.0.stopped.store(true, Ordering::Relaxed);
                    }
                }
                let _mark = Stopped(&thread_shared);
                scheduler::thread_main(&thread_shared, size, rx);
            })
            .map_err(|e| EngineError::Backend(e.to_string()))?;
        Ok(Self { jobs, shared })
    }

    /// Follow the load state (for readiness).
    pub fn state(&self) -> watch::Receiver<LoadState> {
        self.shared.state.subscribe()
    }

    /// Wait until the model is loaded or loading failed.
    pub async fn wait_loaded(&self) -> Result<ModelInfo, String> {
        let mut rx = self.state();
        let state = rx
            .wait_for(|s| *s != LoadState::Loading)
            .await
            .map_err(|_| EngineError::ThreadGone.to_string())?
            .clone();
        match state {
            LoadState::Failed(why) => Err(why),
            _ => self
                .model()
                .ok_or_else(|| EngineError::ThreadGone.to_string()),
        }
    }

    /// Slow generation down (to shed heat) by pausing after every decode step.
    pub fn set_step_pause(&self, pause: std::time::Duration) {
        self.shared
            .step_pause_ms
            .store(pause.as_millis() as u64, Ordering::Relaxed);
    }

    /// Switch speculative decoding on or off for the steps that follow (output is the same
    /// either way; `edgellm bench` compares the speed).
    pub fn set_speculation(&self, on: bool) {
        self.shared.spec_on.store(on, Ordering::Relaxed);
    }

    /// Seconds the model took to load, once loaded.
    /// The settings the engine runs with (`ctx_size` resolved where it was `auto`).
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    pub fn load_seconds(&self) -> Option<f64> {
        self.shared.loaded.get().map(|l| l.load_secs)
    }

    /// How long ago the engine loop last turned. A wedged engine stops turning.
    pub fn heartbeat_age(&self) -> std::time::Duration {
        let now = self.shared.started.elapsed().as_millis() as u64;
        let beat = self.shared.heartbeat_ms.load(Ordering::Relaxed);
        std::time::Duration::from_millis(now.saturating_sub(beat))
    }

    fn loaded(&self) -> Result<&Loaded, BackendError> {
        self.shared
            .loaded
            .get()
            .ok_or_else(|| match &*self.shared.state.borrow() {
                LoadState::Failed(why) => {
                    BackendError::Unavailable(format!("the model failed to load: {why}"))
                }
                _ => BackendError::Unavailable("the model is still loading; retry shortly".into()),
            })
    }

    /// Count one more job against `--queue`, or refuse it when the queue is full.
    fn take_place(&self) -> Result<(), BackendError> {
        let capacity = u64::from(self.shared.config.queue);
        self.shared
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q < capacity).then_some(q + 1)
            })
            .map(|_| ())
            .map_err(|_| BackendError::Overloaded {
                queued: capacity as usize,
                retry_after_secs: 1,
            })
    }

    /// A job the channel did not take: give its place back and say why.
    fn refused(&self, err: TrySendError<Work>) -> BackendError {
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        match err {
            TrySendError::Full(_) => BackendError::Overloaded {
                queued: self.shared.config.queue as usize,
                retry_after_secs: 1,
            },
            TrySendError::Disconnected(_) => {
                BackendError::Unavailable("the engine has stopped".into())
            }
        }
    }

    /// Render (for chats, with the tools the model is shown) and tokenise a prompt. A chat's
    /// message content is tokenised as text: only the template's own text may hold special
    /// tokens. A raw text prompt is the client's whole prompt, special tokens included.
    fn tokenize_prompt(
        &self,
        loaded: &Loaded,
        prompt: &Prompt,
        tools: &[serde_json::Value],
    ) -> Result<Vec<LlamaToken>, BackendError> {
        let vocab = loaded.model.vocab();
        let pieces = match prompt {
            Prompt::Infill(infill) => {
                let mut tokens = Vec::new();
                if vocab.should_add_bos() {
                    tokens.push(vocab.bos());
                }
                let limit = loaded.info.n_ctx_per_request;
                tokens.extend(crate::infill::tokens(&vocab, infill, limit)?);
                return Ok(tokens);
            }
            Prompt::Chat(messages) => match loaded.template.render_pieces(messages, tools)? {
                Some(pieces) => pieces,
                None => {
                    tracing::debug!("the chat template changes message content; tokenising the prompt as one text");
                    vec![Piece::Template(loaded.template.render(messages, tools)?)]
                }
            },
            Prompt::Text(text) => vec![Piece::Template(text.clone())],
        };
        let bos_text = loaded.template.bos_token();
        let starts_with_bos = match pieces.first() {
            Some(Piece::Template(t)) => !bos_text.is_empty() && t.starts_with(bos_text),
            _ => false,
        };
        let mut tokens = Vec::new();
        if vocab.should_add_bos() && !starts_with_bos {
            tokens.push(vocab.bos());
        }
        for piece in &pieces {
            match piece {
                Piece::Template(t) if !t.is_empty() => {
                    tokens.extend(vocab.tokenize(t.as_bytes(), false, true))
                }
                Piece::Content(t) if !t.is_empty() => {
                    tokens.extend(vocab.tokenize(t.as_bytes(), false, false))
                }
                _ => {}
            }
        }
        Ok(tokens)
    }
}

impl Backend for EngineHandle {
    fn model(&self) -> Option<ModelInfo> {
        self.shared.loaded.get().map(|l| l.info.clone())
    }

    fn prepare(&self, request: GenerateRequest) -> Result<Prepared, BackendError> {
        let loaded = self.loaded()?;
        // `tool_choice: none` hides the tools, so the model answers in text.
        let tools = request
            .tools
            .filter(|t| t.choice != ToolChoice::None && !t.definitions.is_empty());
        let shown = tools.as_ref().map_or(&[][..], |t| &t.definitions[..]);
        let tokens = self.tokenize_prompt(loaded, &request.prompt, shown)?;
        let limit = loaded.info.n_ctx_per_request;
        if tokens.is_empty() {
            return Err(BackendError::InvalidRequest("the prompt is empty".into()));
        }
        if tokens.len() >= limit {
            return Err(BackendError::ContextOverflow {
                prompt_tokens: tokens.len(),
                limit,
            });
        }
        let room = limit - tokens.len();
        let max = request
            .params
            .max_tokens
            .map_or(room, |m| (m as usize).min(room));
        // Constraints are compiled here, off the engine thread; a schema that cannot be used
        // is the client's error.
        let forced = tools.as_ref().and_then(|t| match &t.choice {
            ToolChoice::Required => Some(None),
            ToolChoice::Function(name) => Some(Some(name.clone())),
            _ => None,
        });
        // With `auto`, the call grammar is compiled now (a bad tool schema fails the request,
        // not the call later) and kept for a call that starts at a token boundary.
        let mut call_grammar = None;
        let constraint = match (&tools, &forced) {
            (Some(t), Some(only)) => Some(loaded.constraints()?.calls(t, only.as_deref(), "")?),
            (Some(t), None) => {
                call_grammar = Some(loaded.constraints()?.calls(t, None, "")?);
                None
            }
            _ => None,
        };
        let constraint = match (constraint, &request.params.format) {
            (Some(c), _) => Some(c),
            (None, Some(schema)) => Some(loaded.constraints()?.json(schema)?),
            (None, None) => None,
        };
        // At most one event per sampled token. A tool call's start is sampled twice (once
        // freely, once under the call grammar after the rollback), so such requests get room
        // for twice their tokens: the channel is never full and no text is dropped.
        let per_token = if tools.is_some() { 2 } else { 1 };
        let (events, rx) = mpsc::channel(per_token * max + EVENT_HEADROOM);
        let ticket = QueueTicket::new();
        let job = Job {
            ticket,
            tokens,
            params: request.params,
            max_tokens: max,
            events,
            submitted: Instant::now(),
            constraint,
            call_grammar,
            tools: tools.map(|t| (t, forced.is_some())),
        };
        Ok(Prepared::new((job, rx)))
    }

    fn submit(&self, prepared: Prepared) -> Result<EventStream, BackendError> {
        let (mut job, rx): (Job, EventStream) = prepared.into_inner()?;
        let queued_job = QueuedJob {
            ticket: job.ticket.clone(),
            events: job.events.downgrade(),
        };
        // Queue time starts now, not when preparation began.
        job.submitted = Instant::now();
        // `queued` counts jobs in the channel and those the engine holds waiting for a
        // slot; together they may not exceed `--queue`.
        self.shared.release_departed();
        self.take_place()?;
        match self.jobs.try_send(Work::Generate(Box::new(job))) {
            Ok(()) => {
                self.shared
                    .queued_jobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(queued_job);
                Ok(rx)
            }
            Err(err) => Err(self.refused(err)),
        }
    }

    fn tokenize(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        let loaded = self.loaded()?;
        let tokens = loaded.model.vocab().tokenize(text.as_bytes(), false, true);
        Ok(tokens.into_iter().map(|t| t.0).collect())
    }

    fn apply_template(
        &self,
        messages: &[edgellm_backend::ChatMessage],
        tools: &[serde_json::Value],
    ) -> Result<String, BackendError> {
        self.loaded()?.template.render(messages, tools)
    }

    fn embed(&self, inputs: Vec<String>, truncate: bool) -> Result<EmbedReceiver, BackendError> {
        let loaded = self.loaded()?;
        if inputs.is_empty() || inputs.len() > embed::MAX_INPUTS {
            return Err(BackendError::InvalidRequest(format!(
                "give between 1 and {} inputs to embed, got {}",
                embed::MAX_INPUTS,
                inputs.len()
            )));
        }
        // The embedding model's own tokenizer, with the special tokens it adds (BERT-style
        // models need their CLS/SEP; Qwen adds none). Text is never read as special tokens.
        let vocab = loaded.embedding.as_deref().unwrap_or(&loaded.model).vocab();
        let limit = loaded.info.n_ctx_embedding;
        let mut tokenised = Vec::with_capacity(inputs.len());
        let mut total = 0;
        for (i, text) in inputs.iter().enumerate() {
            let mut tokens = vocab.tokenize(text.as_bytes(), true, false);
            if tokens.is_empty() {
                return Err(BackendError::InvalidRequest(format!("input {i} is empty")));
            }
            if truncate {
                tokens.truncate(limit);
            }
            if tokens.len() > limit {
                return Err(BackendError::ContextOverflow {
                    prompt_tokens: tokens.len(),
                    limit,
                });
            }
            total += tokens.len();
            if total > embed::MAX_REQUEST_TOKENS {
                return Err(BackendError::InvalidRequest(format!(
                    "the inputs of one embedding request may hold at most {} tokens together; split the batch",
                    embed::MAX_REQUEST_TOKENS
                )));
            }
            tokenised.push(tokens);
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.take_place()?;
        let job = EmbedJob {
            inputs: tokenised,
            reply,
            ticket: QueueTicket::new(),
        };
        match self.jobs.try_send(Work::Embed(job)) {
            Ok(()) => Ok(rx),
            Err(err) => Err(self.refused(err)),
        }
    }

    fn stats(&self) -> EngineStats {
        self.shared
            .snapshot(self.heartbeat_age().as_millis() as u64)
    }
}
