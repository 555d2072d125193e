//! `edgellm generate` flags.

use super::*;

/// Flags of `edgellm generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The user message (or, with --raw, the text to continue).
    #[arg(long)]
    pub prompt: String,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: u32,
    /// Sampling temperature; 0 is greedy and repeatable.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Continue the prompt as plain text instead of applying the chat template.
    #[arg(long)]
    pub raw: bool,
}

/// What `edgellm generate` does, besides the engine settings.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub prompt: String,
    pub max_tokens: u32,
    pub temperature: f32,
    pub raw: bool,
}

impl GenerateArgs {
    /// Resolve `edgellm generate` flags: one slot, a context just big enough.
    pub fn resolve(self) -> Result<(GenerateOptions, EngineConfig), Error> {
        generate_config(self)
    }
}

fn generate_config(args: GenerateArgs) -> Result<(GenerateOptions, EngineConfig), Error> {
    let state_dir = StateDirArg { state_dir: None }
        .resolve()
        .unwrap_or_default();
    if args.max_tokens == 0 {
        return Err(Error::config("max-tokens", "must be at least 1"));
    }
    if !(0.0..=2.0).contains(&args.temperature) {
        return Err(Error::config("temperature", "must be between 0 and 2"));
    }
    let mut engine = args.engine.resolve(&state_dir)?;
    engine.parallel = 1;
    Ok((
        GenerateOptions {
            prompt: args.prompt,
            max_tokens: args.max_tokens,
            temperature: args.temperature,
            raw: args.raw,
        },
        engine,
    ))
}
