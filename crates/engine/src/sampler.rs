//! The per-request sampling chain, in llama.cpp's default order.
//!
//! Constraints (JSON schemas, tool calls) are llguidance samplers (see `constraint`), which
//! never throw. llama.cpp's own GBNF grammar sampler is not used: it throws a C++
//! exception (which aborts the process: Rust cannot unwind through it) when told to accept
//! a token its grammar does not allow. Still:
//! - the prompt is fed only to the penalties sampler (the one sampler that needs history),
//!   before it joins the chain, never to the chain (which holds the constraint);
//! - the chain only ever accepts tokens it sampled itself (the constraint's mask is applied
//!   first, so the token it picks is one the constraint allows);
//! - every numeric parameter has been range-checked by the API before it gets here, and
//!   is clamped again below to what llama.cpp's samplers take.

use edgellm_backend::SamplingParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

/// Build the chain for one request: `constraint` first, then penalties (which see the last
/// tokens of `history`: the prompt and anything generated before a rebuild), then sampling.
/// Temperature 0 is greedy (deterministic).
pub fn build(
    model: &LlamaModel,
    params: &SamplingParams,
    history: &[LlamaToken],
    constraint: Option<LlamaSampler>,
) -> LlamaSampler {
    let prompt = history;
    let mut chain = Vec::new();
    chain.extend(constraint);
    if has_penalties(params) {
        let last_n = params.penalty_last_n.min(i32::MAX as u32) as usize;
        let mut penalties = LlamaSampler::penalties(
            model.n_vocab(),
            last_n as i32,
            params.repeat_penalty,
            params.frequency_penalty,
            params.presence_penalty,
        );
        // Penalties look at recent tokens, including the prompt's, as llama.cpp's server
        // does. Only this sampler sees the prompt (see the module comment).
        penalties.accept_many(&prompt[prompt.len().saturating_sub(last_n)..]);
        chain.push(penalties);
    }
    if params.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if params.top_k > 0 {
            chain.push(LlamaSampler::top_k(
                i32::try_from(params.top_k).unwrap_or(i32::MAX),
            ));
        }
        chain.push(LlamaSampler::top_p(
            params.top_p.clamp(f32::MIN_POSITIVE, 1.0),
            1,
        ));
        chain.push(LlamaSampler::min_p(params.min_p.clamp(0.0, 1.0), 1));
        chain.push(LlamaSampler::temp(params.temperature));
        chain.push(LlamaSampler::dist(params.seed.unwrap_or_else(random_seed)));
    }
    LlamaSampler::chain_simple(chain)
}

/// Whether a request can take the greedy fast path: temperature 0 with nothing that
/// changes the logits (no constraint, no penalty). Then the next token is the argmax of the
/// logits, which is what the chain's greedy sampler picks (the first of equal maxima),
/// without copying all ~152k candidates into a token array each step.
pub fn fast_greedy(params: &SamplingParams, constrained: bool) -> bool {
    params.temperature <= 0.0 && !constrained && !has_penalties(params)
}

/// The argmax of `logits` (the first of equal maxima, as llama.cpp's greedy sampler).
pub fn argmax(logits: &[f32]) -> LlamaToken {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate().skip(1) {
        if l > logits[best] {
            best = i;
        }
    }
    LlamaToken(i32::try_from(best).unwrap_or(0))
}

fn has_penalties(params: &SamplingParams) -> bool {
    params.repeat_penalty != 1.0
        || params.presence_penalty != 0.0
        || params.frequency_penalty != 0.0
}

fn random_seed() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[0.1, 3.0, -1.0, 3.0]), LlamaToken(1));
        assert_eq!(argmax(&[f32::NEG_INFINITY, -5.0]), LlamaToken(1));
        assert_eq!(argmax(&[2.0]), LlamaToken(0));
    }

    #[test]
    fn only_plain_greedy_requests_take_the_fast_path() {
        let greedy = SamplingParams {
            temperature: 0.0,
            ..SamplingParams::default()
        };
        assert!(fast_greedy(&greedy, false));
        assert!(!fast_greedy(&greedy, true));
        let penalised = SamplingParams {
            repeat_penalty: 1.1,
            ..greedy.clone()
        };
        assert!(!fast_greedy(&penalised, false));
        assert!(!fast_greedy(&SamplingParams::default(), false));
    }
}
