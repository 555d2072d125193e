//! Embeddings: from the loaded model, mean-pooled over the input's tokens, unit length, as
//! Ollama gives for any model; or from a dedicated embedding model (`--embedding-model`,
//! loaded at start next to the chat model), pooled as its GGUF says (mean if it does not).
//!
//! They come from a second, small llama.cpp context on the same model weights (no second
//! copy in memory), created on the first embedding request and run by the engine thread
//! between decode steps. A chat model's embeddings are usable for similarity and small
//! retrieval jobs but weaker than a dedicated embedding model's (docs/clients.md says so).

use std::num::NonZeroU32;

use edgellm_backend::{BackendError, Embeddings};
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::oneshot;

use crate::shared::QueueTicket;
use crate::EngineConfig;

pub use crate::config::EMBED_MAX_TOKENS as MAX_TOKENS;

/// Most inputs in one request.
pub const MAX_INPUTS: usize = 256;

/// Most tokens of all inputs of one request together: a bound on the engine time one
/// request can queue (about 7 minutes of this 2-core machine, interleaved with generation).
pub const MAX_REQUEST_TOKENS: usize = 32_768;

/// Tokens of the chat model's input embedded per engine turn. A turn is the unit of
/// fairness: a chunk costs about one decode step of the other streams (~0.4 s here), and
/// llama.cpp keeps logits for every token of a chunk (152k floats each on Qwen), so a small
/// chunk also keeps the output buffer small (~20 MB at 32, ~300 MB at 512).
pub const CHUNK: usize = 32;

/// An embedding request, tokenised and checked.
#[derive(Debug)]
pub(crate) struct EmbedJob {
    pub(crate) inputs: Vec<Vec<LlamaToken>>,
    pub(crate) reply: oneshot::Sender<Result<Embeddings, BackendError>>,
    /// Counts against `--queue` until it starts.
    pub(crate) ticket: QueueTicket,
}

/// An embedding request the engine is working through, one chunk per turn.
#[derive(Debug)]
pub(crate) struct EmbedTask {
    pub(crate) job: EmbedJob,
    vectors: Vec<Vec<f32>>,
    /// Where in the current input the next chunk starts.
    offset: usize,
    /// The current input's pooled vectors so far, weighted by their token counts.
    sum: Vec<f64>,
}

impl EmbedTask {
    pub(crate) fn new(job: EmbedJob) -> Self {
        Self {
            vectors: Vec::with_capacity(job.inputs.len()),
            job,
            offset: 0,
            sum: Vec::new(),
        }
    }

    pub(crate) fn started(&self) -> bool {
        self.offset > 0 || !self.vectors.is_empty()
    }

    /// The result, once every input is embedded.
    pub(crate) fn result(&mut self) -> Option<Embeddings> {
        (self.vectors.len() == self.job.inputs.len()).then(|| Embeddings {
            vectors: std::mem::take(&mut self.vectors),
            prompt_tokens: self.job.inputs.iter().map(Vec::len).sum(),
        })
    }
}

/// The embedding context.
pub(crate) struct Embedder<'m> {
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    /// Tokens per decode: [`CHUNK`] for the chat model (causal: a chunk sees the earlier
    /// ones through the KV cache, and the chunks' means add up to the input's mean); the
    /// whole input for a dedicated model (often bidirectional, pooled as its GGUF says).
    chunk: usize,
}

impl<'m> Embedder<'m> {
    /// `dedicated`: an embedding model, pooled as its GGUF says; else the chat model,
    /// mean-pooled. `n_ctx`: the most tokens one input may have.
    pub(crate) fn new(
        model: &'m LlamaModel,
        dedicated: bool,
        n_ctx: usize,
        cfg: &EngineConfig,
    ) -> Result<Self, String> {
        let n = n_ctx.max(1) as u32;
        // A GGUF that says how to pool (embedding models do) is pooled so; any other mean-pooled.
        let arch = model
            .meta_val_str("general.architecture")
            .unwrap_or_default();
        let declared = model.meta_val_str(&format!("{arch}.pooling_type")).is_ok();
        let pooling = if dedicated && declared {
            LlamaPoolingType::Unspecified
        } else {
            LlamaPoolingType::Mean
        };
        let chunk = if dedicated {
            n as usize
        } else {
            CHUNK.min(n as usize)
        };
        tracing::info!(
            dedicated,
            gguf_pooling = declared,
            n_ctx = n,
            chunk,
            "embedding context created"
        );
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n))
            .with_n_batch(chunk as u32)
            .with_n_ubatch(chunk as u32)
            .with_n_seq_max(1)
            .with_embeddings(true)
            .with_pooling_type(pooling)
            .with_n_threads(i32::try_from(cfg.threads).unwrap_or(1))
            .with_n_threads_batch(i32::try_from(cfg.threads_batch).unwrap_or(1));
        let ctx = model
            .new_context(crate::load::backend().map_err(|e| e.to_string())?, params)
            .map_err(|e| format!("the embedding context could not be created: {e}"))?;
        Ok(Self {
            ctx,
            batch: LlamaBatch::new(chunk, 1),
            chunk,
        })
    }

    /// Embed the next chunk of `task` (each input already checked to hold 1..=n_ctx tokens).
    pub(crate) fn step(&mut self, task: &mut EmbedTask) -> Result<(), BackendError> {
        let Some(tokens) = task.job.inputs.get(task.vectors.len()) else {
            return Ok(());
        };
        if task.offset == 0 {
            self.ctx.clear_kv_cache();
            task.sum.clear();
        }
        let end = (task.offset + self.chunk).min(tokens.len());
        self.batch.clear();
        for (i, &t) in tokens.iter().enumerate().take(end).skip(task.offset) {
            self.batch
                .add(t, i as i32, &[0], true)
                .map_err(|e| BackendError::Internal(e.to_string()))?;
        }
        self.ctx
            .decode(&mut self.batch)
            .map_err(|e| BackendError::Internal(format!("embedding failed: {e}")))?;
        let v = self
            .ctx
            .embeddings_seq_ith(0)
            .map_err(|_| BackendError::Internal("the model gave no embedding".into()))?;
        let weight = (end - task.offset) as f64;
        if task.sum.is_empty() {
            task.sum = vec![0.0; v.len()];
        }
        for (s, x) in task.sum.iter_mut().zip(v) {
            *s += f64::from(*x) * weight;
        }
        task.offset = end;
        if end == tokens.len() {
            let mean: Vec<f32> = task.sum.iter().map(|s| (s / end as f64) as f32).collect();
            task.vectors.push(normalise(&mean));
            task.offset = 0;
        }
        Ok(())
    }
}

/// `v` scaled to unit length (a zero vector stays zero).
pub(crate) fn normalise(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return v.to_vec();
    }
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_come_out_unit_length() {
        let v = normalise(&[3.0, 4.0]);
        assert_eq!(v, vec![0.6, 0.8]);
        assert_eq!(normalise(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
