//! Checking and loading the GGUF file and creating the llama.cpp context.

use std::io::Read;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;

use edgellm_backend::ModelInfo;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;

use crate::template::ChatTemplate;
use crate::{EngineConfig, EngineError};

/// llama.cpp's backend can be initialised once per process; it lives as long as the process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// Start llama.cpp's backend (once), loading the CPU variant for this CPU first where the
/// build has run-time variants.
pub(crate) fn start_backend(cfg: &EngineConfig) -> Result<&'static LlamaBackend, EngineError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            crate::cpu::load_variant(cfg.backend_dir.as_deref())?;
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Backend(e.clone()))
}

/// The backend [`start_backend`] started.
pub(crate) fn backend() -> Result<&'static LlamaBackend, EngineError> {
    match BACKEND.get() {
        Some(started) => started
            .as_ref()
            .map_err(|e| EngineError::Backend(e.clone())),
        None => Err(EngineError::Backend("not started".into())),
    }
}

/// Cheap checks before handing the file to llama.cpp, so common mistakes get clear errors.
/// Returns the file size.
pub fn check_model_file(path: &Path) -> Result<u64, EngineError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EngineError::ModelMissing { path: path.into() })
        }
        Err(source) => {
            return Err(EngineError::ModelUnreadable {
                path: path.into(),
                source,
            })
        }
    };
    let unreadable = |source| EngineError::ModelUnreadable {
        path: path.into(),
        source,
    };
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let n = file.read(&mut magic).map_err(unreadable)?;
    if &magic[..n] != b"GGUF" {
        return Err(EngineError::NotGguf {
            path: path.into(),
            magic: String::from_utf8_lossy(&magic[..n]).into_owned(),
        });
    }
    Ok(meta.len())
}

pub(crate) fn load_model(cfg: &EngineConfig, size: u64) -> Result<LlamaModel, EngineError> {
    load_file(cfg, &cfg.model_path, size)
}

/// The dedicated embedding model, when one is configured.
pub(crate) fn load_embedding_model(cfg: &EngineConfig) -> Result<Option<LlamaModel>, EngineError> {
    let Some(path) = &cfg.embedding_model else {
        return Ok(None);
    };
    let size = check_model_file(path)?;
    let model = load_file(cfg, path, size)?;
    tracing::info!(path = %path.display(), dims = model.n_embd(), "embedding model loaded");
    Ok(Some(model))
}

fn load_file(cfg: &EngineConfig, path: &Path, size: u64) -> Result<LlamaModel, EngineError> {
    let backend = start_backend(cfg)?;
    let params = LlamaModelParams::default()
        .with_use_mmap(true)
        .with_use_mlock(cfg.mlock);
    LlamaModel::load_from_file(backend, path, &params).map_err(|_| EngineError::LoadFailed {
        path: path.to_path_buf(),
        size,
    })
}

pub(crate) fn context_params(cfg: &EngineConfig) -> LlamaContextParams {
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(cfg.ctx_size))
        .with_n_batch(cfg.batch_size)
        .with_n_ubatch(cfg.ubatch_size)
        .with_n_seq_max(cfg.parallel)
        // One cache for all slots, so one request can use the whole context; or one stream of
        // cells per slot, so where a sequence's cells lie never depends on the other slots.
        .with_kv_unified(cfg.kv_unified)
        .with_n_threads(i32::try_from(cfg.threads).unwrap_or(1))
        .with_n_threads_batch(i32::try_from(cfg.threads_batch).unwrap_or(1))
        .with_type_k(kv_type(cfg.cache_type_k))
        .with_type_v(kv_type(cfg.cache_type_v))
        // llama.h: LLAMA_FLASH_ATTN_TYPE_AUTO = -1, _DISABLED = 0, _ENABLED = 1.
        .with_flash_attention_policy(match cfg.flash_attn {
            crate::config::FlashAttn::Auto => -1,
            crate::config::FlashAttn::Off => 0,
            crate::config::FlashAttn::On => 1,
        })
}

fn kv_type(t: crate::config::CacheType) -> llama_cpp_2::context::params::KvCacheType {
    use llama_cpp_2::context::params::KvCacheType;
    match t {
        crate::config::CacheType::F16 => KvCacheType::F16,
        crate::config::CacheType::Q8_0 => KvCacheType::Q8_0,
        crate::config::CacheType::Q4_0 => KvCacheType::Q4_0,
    }
}

pub(crate) fn chat_template(model: &LlamaModel) -> Result<ChatTemplate, EngineError> {
    let vocab = model.vocab();
    let piece = |t| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
    let source = model.meta_val_str("tokenizer.chat_template").ok();
    if source.is_none() {
        tracing::warn!("the model has no chat template; using ChatML");
    }
    ChatTemplate::new(source, piece(vocab.bos()), piece(vocab.eos()))
        .map_err(|e| EngineError::Template(e.to_string()))
}

pub(crate) fn model_info(
    model: &LlamaModel,
    embedding: Option<&LlamaModel>,
    cfg: &EngineConfig,
    size: u64,
) -> ModelInfo {
    let modified_unix = std::fs::metadata(&cfg.model_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    ModelInfo {
        id: cfg.model_id.clone(),
        n_ctx_per_request: cfg.ctx_per_request(),
        n_ctx_embedding: crate::config::EMBED_MAX_TOKENS
            .min(embedding.map_or(usize::MAX, |m| m.n_ctx_train() as usize)),
        embedding_dims: usize::try_from(embedding.unwrap_or(model).n_embd()).unwrap_or(0),
        embedding_model: match (&cfg.embedding_model, embedding) {
            (Some(path), Some(_)) => path
                .file_stem()
                .map_or_else(|| "embedding".into(), |s| s.to_string_lossy().into_owned()),
            _ => cfg.model_id.clone(),
        },
        n_ctx_train: model.n_ctx_train() as usize,
        size_bytes: size,
        n_params: model.n_params(),
        architecture: model
            .meta_val_str("general.architecture")
            .unwrap_or_else(|_| "unknown".into()),
        quantization: model
            .meta_val_str("general.file_type")
            .ok()
            .and_then(|t| t.parse().ok())
            .map_or_else(|| "unknown".into(), file_type_name),
        modified_unix,
        cpu: crate::cpu::detect(),
        infill: crate::infill::token_texts(&model.vocab()),
    }
}

/// GGUF `general.file_type` values (llama.cpp's `llama_ftype`) to their usual names.
fn file_type_name(ftype: u32) -> String {
    let name = match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return format!("type {ftype}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_non_gguf_files_are_named() {
        let dir = std::env::temp_dir().join(format!("edgellm-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("nope.gguf");
        assert!(matches!(
            check_model_file(&missing),
            Err(EngineError::ModelMissing { .. })
        ));
        let text = dir.join("text.gguf");
        std::fs::write(&text, b"hello world").unwrap();
        let err = check_model_file(&text).unwrap_err();
        assert!(err.to_string().contains("not a GGUF"), "{err}");
        let ok = dir.join("ok.gguf");
        std::fs::write(&ok, b"GGUF\x03\0\0\0").unwrap();
        assert_eq!(check_model_file(&ok).unwrap(), 8);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
