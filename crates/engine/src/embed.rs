//! Embeddings: from the loaded model, mean-pooled over the input's tokens, unit length, as
//! Ollama gives for any model; or from a dedicated embedding model (`--embedding-model`,
//! loaded at start next to the chat model), pooled as its GGUF says (mean if it does not).
//!
//! They come from a second, small llama.cpp context on the same model weights (no second
//! copy in memory), created on the first embedding request and run by the engine thread
//! between decode steps. A chat model's embeddings are usable for similarity and small
//! retrieval jobs but weaker than a dedicated embedding model's (README says so).

use std::num::NonZeroU32;

use edgellm_backend::{BackendError, Embeddings};
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::oneshot;

use crate::EngineConfig;

/// Most tokens one input may have (the embedding context's size).
pub const MAX_TOKENS: usize = 512;

/// Most inputs in one request.
pub const MAX_INPUTS: usize = 256;

/// An embedding request, tokenised and checked.
#[derive(Debug)]
pub(crate) struct EmbedJob {
    pub(crate) inputs: Vec<Vec<LlamaToken>>,
    pub(crate) reply: oneshot::Sender<Result<Embeddings, BackendError>>,
}

/// The embedding context.
pub(crate) struct Embedder<'m> {
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
}

impl<'m> Embedder<'m> {
    /// `dedicated`: an embedding model, pooled as its GGUF says; else the chat model,
    /// mean-pooled.
    pub(crate) fn new(
        model: &'m LlamaModel,
        dedicated: bool,
        cfg: &EngineConfig,
    ) -> Result<Self, String> {
        let n = MAX_TOKENS as u32;
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
        tracing::info!(
            dedicated,
            gguf_pooling = declared,
            "embedding context created"
        );
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n))
            .with_n_batch(n)
            .with_n_ubatch(n)
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
            batch: LlamaBatch::new(MAX_TOKENS, 1),
        })
    }

    /// Embed each input (each already checked to hold 1..=MAX_TOKENS tokens).
    pub(crate) fn run(&mut self, inputs: &[Vec<LlamaToken>]) -> Result<Embeddings, BackendError> {
        let mut vectors = Vec::with_capacity(inputs.len());
        for tokens in inputs {
            self.ctx.clear_kv_cache();
            self.batch.clear();
            for (i, &t) in tokens.iter().enumerate() {
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
            vectors.push(normalise(v));
        }
        Ok(Embeddings {
            vectors,
            prompt_tokens: inputs.iter().map(Vec::len).sum(),
        })
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
