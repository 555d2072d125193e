//! The per-request sampling chain, in llama.cpp's default order.

use edgellm_backend::SamplingParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

/// GBNF grammar for `format: "json"`.
const JSON_GRAMMAR: &str = include_str!("json.gbnf");

/// Build the chain for one request. Temperature 0 is greedy (deterministic).
pub fn build(model: &LlamaModel, params: &SamplingParams, prompt: &[LlamaToken]) -> LlamaSampler {
    let mut chain = Vec::new();
    if params.json {
        match LlamaSampler::grammar(model, JSON_GRAMMAR, "root") {
            Ok(grammar) => chain.push(grammar),
            Err(e) => {
                tracing::error!(error = %e, "the JSON grammar failed to load; output is unconstrained")
            }
        }
    }
    let penalties = params.repeat_penalty != 1.0
        || params.presence_penalty != 0.0
        || params.frequency_penalty != 0.0;
    if penalties {
        chain.push(LlamaSampler::penalties(
            model.n_vocab(),
            i32::try_from(params.penalty_last_n).unwrap_or(i32::MAX),
            params.repeat_penalty,
            params.frequency_penalty,
            params.presence_penalty,
        ));
    }
    if params.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if params.top_k > 0 {
            chain.push(LlamaSampler::top_k(
                i32::try_from(params.top_k).unwrap_or(i32::MAX),
            ));
        }
        chain.push(LlamaSampler::top_p(params.top_p, 1));
        chain.push(LlamaSampler::min_p(params.min_p, 1));
        chain.push(LlamaSampler::temp(params.temperature));
        chain.push(LlamaSampler::dist(params.seed.unwrap_or_else(random_seed)));
    }
    let mut sampler = LlamaSampler::chain_simple(chain);
    if penalties {
        // Penalties look at recent tokens, including the prompt's, as llama.cpp's server does.
        sampler.accept_many(prompt);
    }
    sampler
}

fn random_seed() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u32
}
