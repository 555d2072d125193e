//! Log probabilities of sampled tokens, for requests that ask (`logprobs`): the log-softmax
//! of the raw logits, the model's own distribution before temperature, penalties and
//! constraints (what llama.cpp's server reports for OpenAI's `logprobs`), with the most
//! likely alternatives. One pass over the vocabulary per token; nothing for other requests.

use edgellm_backend::TokenLogprob;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::vocab::LlamaVocab;

/// The sampled `token`'s log probability and the `top` most likely tokens at its position.
pub(crate) fn of(
    vocab: &LlamaVocab<'_>,
    logits: &[f32],
    token: LlamaToken,
    top: usize,
) -> TokenLogprob {
    let lse = log_sum_exp(logits);
    let text = |t: LlamaToken| {
        let bytes = vocab.token_to_piece(t, false, None);
        (String::from_utf8_lossy(&bytes).into_owned(), bytes)
    };
    let (token_text, bytes) = text(token);
    let logit = usize::try_from(token.0)
        .ok()
        .and_then(|i| logits.get(i))
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    TokenLogprob {
        token: token_text,
        bytes,
        logprob: logit - lse,
        top: top_n(logits, top)
            .into_iter()
            .map(|(i, l)| {
                let (t, b) = text(LlamaToken(i as i32));
                (t, b, l - lse)
            })
            .collect(),
    }
}

/// `ln(sum(exp(l)))`, stable.
fn log_sum_exp(logits: &[f32]) -> f32 {
    let max = logits
        .iter()
        .copied()
        .filter(|l| !l.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = logits
        .iter()
        .filter(|l| !l.is_nan())
        .map(|&l| f64::from(l - max).exp())
        .sum();
    max + sum.ln() as f32
}

/// The `n` largest logits with their indices, largest first (the first of equals first).
fn top_n(logits: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(n + 1);
    if n == 0 {
        return best;
    }
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() || (best.len() == n && l <= best[n - 1].1) {
            continue;
        }
        let at = best.partition_point(|&(_, b)| b >= l);
        best.insert(at, (i, l));
        best.truncate(n);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_sum_exp_is_the_softmax_normaliser() {
        let logits = [1.0f32, 2.0, 3.0];
        let lse = log_sum_exp(&logits);
        let total: f32 = logits.iter().map(|l| (l - lse).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        assert!(log_sum_exp(&[1e30, 1e30]).is_finite());
    }

    #[test]
    fn top_n_keeps_the_largest_in_order() {
        let logits = [0.5f32, 3.0, -1.0, 3.0, 2.0, f32::NAN];
        assert_eq!(top_n(&logits, 3), vec![(1, 3.0), (3, 3.0), (4, 2.0)]);
        assert_eq!(top_n(&logits, 0), vec![]);
        assert_eq!(top_n(&logits, 10).len(), 5);
    }
}
