//! `edgellm bench` flags.

use super::*;

/// Flags of `edgellm bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Engine settings, as for `serve`.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Words of filler in the prompt-processing test (about 1.3 tokens each).
    #[arg(long, default_value_t = 200)]
    pub prompt_words: usize,
    /// Tokens generated in the generation test (half of it per stream in the concurrency test).
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    /// Resolve `edgellm bench` flags; the state dir only supplies the default model path.
    pub fn resolve(self) -> Result<(BenchOptions, EngineConfig), Error> {
        bench_config(self)
    }
}

fn bench_config(args: BenchArgs) -> Result<(BenchOptions, EngineConfig), Error> {
    let state_dir = StateDirArg { state_dir: None }
        .resolve()
        .unwrap_or_default();
    let BenchArgs {
        engine,
        prompt_words,
        gen_tokens,
        json,
    } = args;
    let mut engine = engine.resolve(&state_dir)?;
    // Four streams are measured; give each a slot.
    engine.parallel = engine.parallel.max(4);
    engine.ctx_size = engine.ctx_size.max(engine.parallel * 512);
    Ok((
        BenchOptions {
            prompt_words,
            gen_tokens,
            json,
        },
        engine,
    ))
}

/// What `edgellm bench` measures, besides the engine settings.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub prompt_words: usize,
    pub gen_tokens: u32,
    pub json: bool,
}
