//! `--ctx-size auto`: the context the device can hold. The model's shape (layers, KV heads,
//! head sizes, read from the GGUF with its vocabulary only) gives the KV cache's bytes per
//! token; the context is the largest power of two whose cache fits the budget, never below
//! the configured floor nor above the model's training context.

use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;

use crate::{EngineConfig, EngineError};

/// The model's KV cache size per token, in bytes, for the configured cache types.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub n_layer: u32,
    pub n_head_kv: u32,
    pub head_dim_k: u32,
    pub head_dim_v: u32,
    pub n_ctx_train: u32,
}

impl Shape {
    pub fn kv_bytes_per_token(&self, cfg: &EngineConfig) -> f64 {
        let per_layer = f64::from(self.n_head_kv)
            * (f64::from(self.head_dim_k) * cfg.cache_type_k.bytes_per_element()
                + f64::from(self.head_dim_v) * cfg.cache_type_v.bytes_per_element());
        f64::from(self.n_layer) * per_layer
    }
}

/// The largest power of two in `floor..=n_ctx_train` whose cache fits `budget` bytes
/// (`floor` itself when none does).
pub fn pick(budget: u64, bytes_per_token: f64, floor: u32, n_ctx_train: u32) -> u32 {
    let mut best = floor;
    let mut ctx = floor.next_power_of_two();
    while ctx <= n_ctx_train.max(floor) {
        if f64::from(ctx) * bytes_per_token <= budget as f64 && ctx > best {
            best = ctx;
        }
        ctx = match ctx.checked_mul(2) {
            Some(c) => c,
            None => break,
        };
    }
    best
}

/// Read the model's shape from its GGUF metadata, without loading its weights. Only the
/// metadata is read: with the vocabulary alone loaded, llama.cpp's per-layer accessors
/// (`n_head`, ...) abort. `None` when a key is missing (the floor is used then).
pub(crate) fn shape(cfg: &EngineConfig) -> Result<Option<Shape>, EngineError> {
    let backend = crate::load::start_backend(cfg)?;
    let params = LlamaModelParams::default().with_vocab_only(true);
    let model = LlamaModel::load_from_file(backend, &cfg.model_path, &params).map_err(|_| {
        EngineError::LoadFailed {
            path: cfg.model_path.clone(),
            size: 0,
        }
    })?;
    let Ok(arch) = model.meta_val_str("general.architecture") else {
        return Ok(None);
    };
    let meta = |key: &str| {
        model
            .meta_val_str(&format!("{arch}.{key}"))
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    let (Some(n_layer), Some(n_head), Some(n_embd), Some(n_ctx_train)) = (
        meta("block_count"),
        meta("attention.head_count"),
        meta("embedding_length"),
        meta("context_length"),
    ) else {
        return Ok(None);
    };
    let head_dim = n_embd / n_head.max(1);
    Ok(Some(Shape {
        n_layer,
        // Per-layer head counts (an array) are not read: the larger count is assumed.
        n_head_kv: meta("attention.head_count_kv").unwrap_or(n_head),
        head_dim_k: meta("attention.key_length").unwrap_or(head_dim),
        head_dim_v: meta("attention.value_length").unwrap_or(head_dim),
        n_ctx_train,
    }))
}

/// The context size `--ctx-size auto` gives on this device.
pub(crate) fn resolve(cfg: &EngineConfig, budget: u64) -> Result<u32, EngineError> {
    let Some(shape) = shape(cfg)? else {
        tracing::warn!(
            ctx_size = cfg.ctx_size,
            "the model's shape is not in its metadata; --ctx-size auto keeps the floor"
        );
        return Ok(cfg.ctx_size);
    };
    let per_token = shape.kv_bytes_per_token(cfg);
    let ctx = pick(budget, per_token, cfg.ctx_size, shape.n_ctx_train);
    tracing::info!(
        ctx_size = ctx,
        kv_budget_mib = budget >> 20,
        kv_bytes_per_token = per_token,
        n_ctx_train = shape.n_ctx_train,
        "context sized to the device (--ctx-size auto)"
    );
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen2.5-0.5B: 24 layers, 2 KV heads of 64, f16: 12 KiB per token.
    const QWEN_05B: f64 = 24.0 * 2.0 * (64.0 * 2.0 + 64.0 * 2.0);

    #[test]
    fn qwen_05b_contexts_by_board() {
        assert_eq!(QWEN_05B, 12_288.0);
        let gib = 1u64 << 30;
        // The budget is a sixteenth of the memory (the daemon's rule).
        for (memory, want) in [
            (gib / 2, 4096),
            (gib, 4096),
            (2 * gib, 8192),
            (4 * gib, 16_384),
            (8 * gib, 32_768),
            (24 * gib, 32_768),
        ] {
            assert_eq!(pick(memory / 16, QWEN_05B, 4096, 32_768), want, "{memory}");
        }
    }

    #[test]
    fn floor_and_training_context_bound_it() {
        assert_eq!(pick(0, QWEN_05B, 4096, 32_768), 4096);
        assert_eq!(pick(u64::MAX, QWEN_05B, 4096, 8192), 8192);
        assert_eq!(pick(u64::MAX, QWEN_05B, 3000, 2048), 3000);
        assert_eq!(pick(u64::MAX, QWEN_05B, 4096, u32::MAX), 1 << 31);
    }
}
