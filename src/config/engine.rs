//! Engine flags shared by `serve`, `bench` and `generate`.

use super::*;

/// Engine flags shared by `serve` and `bench`.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// GGUF model file [default: <state-dir>/models/model.gguf]
    #[arg(long, env = "EDGELLM_MODEL", value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// Model id reported to clients [default: the file name without .gguf]
    #[arg(long, env = "EDGELLM_MODEL_ID", value_name = "ID")]
    pub model_id: Option<String>,

    /// Threads for generation [default: number of cores, at most 4]
    #[arg(long, env = "EDGELLM_THREADS", value_name = "N")]
    pub threads: Option<u32>,

    /// Threads for prompt processing [default: same as --threads]
    #[arg(long, env = "EDGELLM_THREADS_BATCH", value_name = "N")]
    pub threads_batch: Option<u32>,

    /// Context size in tokens, one cache shared by all parallel slots (one request may use all of it); auto: the largest power of two from 4096 up to the model's training context whose KV cache fits in 1/16 of the memory (the cgroup limit where lower).
    #[arg(
        long,
        env = "EDGELLM_CTX_SIZE",
        value_name = "N|auto",
        default_value = "auto"
    )]
    pub ctx_size: CtxSizeArg,

    /// Most tokens decoded per step (prompt chunks plus one per generating slot).
    #[arg(
        long,
        env = "EDGELLM_BATCH_SIZE",
        value_name = "N",
        default_value_t = 256
    )]
    pub batch_size: u32,

    /// Micro-batch size; the compute buffer grows with it (the first memory knob on 1 GB boards).
    #[arg(
        long,
        env = "EDGELLM_UBATCH_SIZE",
        value_name = "N",
        default_value_t = 128
    )]
    pub ubatch_size: u32,

    /// Requests generated at the same time (continuous batching slots).
    #[arg(long, env = "EDGELLM_PARALLEL", value_name = "N", default_value_t = 2)]
    pub parallel: u32,

    /// Requests that may wait for a free slot; more get 503 with Retry-After.
    #[arg(long, env = "EDGELLM_QUEUE", value_name = "N", default_value_t = 8)]
    pub queue: u32,

    /// Lock the model in RAM so it is never paged out (needs LimitMEMLOCK).
    #[arg(long, env = "EDGELLM_MLOCK")]
    pub mlock: bool,

    /// Directory of llama.cpp's CPU backend libraries, libggml-cpu-*.so (aarch64 builds pick
    /// the best for the CPU at start) [default: next to the executable, ../lib/edgellm,
    /// /usr/lib/edgellm]
    #[arg(long, env = "EDGELLM_BACKEND_DIR", value_name = "DIR")]
    pub backend_dir: Option<PathBuf>,

    /// A second GGUF, an embedding model, for the embedding endpoints [default: the main model]
    #[arg(long, env = "EDGELLM_EMBEDDING_MODEL", value_name = "PATH")]
    pub embedding_model: Option<PathBuf>,

    /// KV cache type for keys: f16, q8_0 (half the memory) or q4_0 (a quarter)
    #[arg(
        long,
        env = "EDGELLM_CACHE_TYPE_K",
        value_name = "TYPE",
        default_value = "f16"
    )]
    pub cache_type_k: CacheTypeArg,

    /// KV cache type for values: f16, q8_0 or q4_0 (quantised values need flash attention)
    #[arg(
        long,
        env = "EDGELLM_CACHE_TYPE_V",
        value_name = "TYPE",
        default_value = "f16"
    )]
    pub cache_type_v: CacheTypeArg,

    /// Flash attention: on, off, or auto (llama.cpp decides)
    #[arg(
        long,
        env = "EDGELLM_FLASH_ATTN",
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub flash_attn: FlashAttnArg,

    /// One KV cache for all slots (on: a request may use the whole context) or a share per slot (off: a stream's output does not depend on the streams beside it)
    #[arg(
        long,
        env = "EDGELLM_KV_UNIFIED",
        value_name = "ON|OFF",
        default_value = "on"
    )]
    pub kv_unified: OnOff,

    /// Speculative decoding: lookup (draft from the request's own text when it pays; same output) or off
    #[arg(
        long,
        env = "EDGELLM_SPEC",
        value_name = "MODE",
        default_value = "lookup"
    )]
    pub spec: SpecArg,

    /// Most tokens drafted per step and stream when speculating (1-32)
    #[arg(long, env = "EDGELLM_DRAFT_MAX", value_name = "N", default_value_t = 8)]
    pub draft_max: u32,

    /// End an answer (finish reason length) once its last N tokens repeat one stretch of at most 64 tokens; 0 = never
    #[arg(
        long,
        env = "EDGELLM_LOOP_GUARD",
        value_name = "N",
        default_value_t = 512
    )]
    pub loop_guard: u32,
}

/// `--ctx-size`: a number of tokens, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtxSizeArg {
    Auto,
    Tokens(u32),
}

impl std::str::FromStr for CtxSizeArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        s.parse()
            .map(Self::Tokens)
            .map_err(|_| format!("expected a number of tokens or 'auto', got '{s}'"))
    }
}

/// The least context `--ctx-size auto` gives (the fixed default before it existed).
pub const AUTO_CTX_FLOOR: u32 = 4096;

/// The share of the memory `--ctx-size auto` gives the KV cache: 1/16.
pub const AUTO_CTX_MEMORY_SHARE: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpecArg {
    Lookup,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheTypeArg {
    F16,
    #[value(name = "q8_0")]
    Q8_0,
    #[value(name = "q4_0")]
    Q4_0,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlashAttnArg {
    On,
    Off,
    Auto,
}

impl From<CacheTypeArg> for edgellm_engine::CacheType {
    fn from(t: CacheTypeArg) -> Self {
        match t {
            CacheTypeArg::F16 => Self::F16,
            CacheTypeArg::Q8_0 => Self::Q8_0,
            CacheTypeArg::Q4_0 => Self::Q4_0,
        }
    }
}

impl EngineArgs {
    /// Validate and derive the engine settings.
    pub fn resolve(self, state_dir: &std::path::Path) -> Result<EngineConfig, Error> {
        let model_path = self
            .model
            .unwrap_or_else(|| state_dir.join("models/model.gguf"));
        let model_id = self.model_id.unwrap_or_else(|| {
            model_path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into())
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let threads = at_least("threads", self.threads.unwrap_or(cores.min(4)), 1)?;
        let threads_batch = at_least("threads-batch", self.threads_batch.unwrap_or(threads), 1)?;
        let parallel = at_least("parallel", self.parallel, 1)?;
        let (ctx_size, ctx_auto) = match self.ctx_size {
            CtxSizeArg::Tokens(n) => (at_least("ctx-size", n, 64)?, None),
            CtxSizeArg::Auto => (
                AUTO_CTX_FLOOR,
                Some(edgellm_observe::system::memory_limit_bytes() / AUTO_CTX_MEMORY_SHARE),
            ),
        };
        let batch_size = at_least("batch-size", self.batch_size, parallel.max(8))?;
        let ubatch_size = at_least("ubatch-size", self.ubatch_size, 1)?;
        if ubatch_size > batch_size {
            return Err(Error::config(
                "ubatch-size",
                format!("must not exceed --batch-size ({batch_size}), got {ubatch_size}"),
            ));
        }
        if self.cache_type_v != CacheTypeArg::F16 && self.flash_attn == FlashAttnArg::Off {
            return Err(Error::config(
                "cache-type-v",
                "a quantised V cache needs flash attention; use --flash-attn on (or auto) or --cache-type-v f16",
            ));
        }
        let kv_unified = self.kv_unified == OnOff::On;
        if !kv_unified && ctx_size / parallel < 64 {
            return Err(Error::config(
                "kv-unified",
                format!(
                    "off gives each of the {parallel} slots ctx-size / parallel = {} tokens; at least 64 are needed (raise --ctx-size or lower --parallel)",
                    ctx_size / parallel
                ),
            ));
        }
        if !(1..=32).contains(&self.draft_max) {
            return Err(Error::config(
                "draft-max",
                format!("must be between 1 and 32, got {}", self.draft_max),
            ));
        }
        let min = edgellm_engine::LOOP_GUARD_MIN;
        if self.loop_guard != 0 && self.loop_guard < min {
            return Err(Error::config(
                "loop-guard",
                format!(
                    "must be 0 (off) or at least {min} tokens (twice the longest repeated stretch looked for), got {}",
                    self.loop_guard
                ),
            ));
        }
        Ok(EngineConfig {
            model_path,
            model_id,
            threads,
            threads_batch,
            ctx_size,
            ctx_auto,
            batch_size,
            ubatch_size,
            parallel,
            queue: at_least("queue", self.queue, 1)?,
            mlock: self.mlock,
            backend_dir: self.backend_dir,
            embedding_model: self.embedding_model,
            cache_type_k: self.cache_type_k.into(),
            cache_type_v: self.cache_type_v.into(),
            flash_attn: match self.flash_attn {
                FlashAttnArg::On => edgellm_engine::FlashAttn::On,
                FlashAttnArg::Off => edgellm_engine::FlashAttn::Off,
                FlashAttnArg::Auto => edgellm_engine::FlashAttn::Auto,
            },
            spec: match self.spec {
                SpecArg::Lookup => edgellm_engine::SpecMode::Lookup,
                SpecArg::Off => edgellm_engine::SpecMode::Off,
            },
            draft_max: self.draft_max,
            loop_guard: self.loop_guard,
            kv_unified,
        })
    }
}
