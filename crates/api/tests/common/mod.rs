//! Shared by the router tests: what a fake backend reports as its loaded model.

use edgellm_backend::ModelInfo;

/// A small loaded model (Qwen-like context, four-dimensional embeddings).
pub fn model_info() -> ModelInfo {
    ModelInfo {
        id: "fake".into(),
        n_ctx_per_request: 2048,
        n_ctx_embedding: 512,
        embedding_dims: 4,
        embedding_model: "fake".into(),
        n_ctx_train: 32768,
        size_bytes: 1,
        n_params: 1,
        architecture: "fake".into(),
        quantization: "Q4_K_M".into(),
        modified_unix: 0,
        cpu: Default::default(),
    }
}
