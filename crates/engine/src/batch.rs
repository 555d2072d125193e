//! One decode step's batch, split into parts per slot, and how a failed decode is isolated.
//!
//! When llama.cpp cannot decode a batch (no room in the KV cache, an allocation failure),
//! every request in it would fail. Instead the step is retried one part at a time, as
//! llama.cpp's server retries with smaller batches, so only the request that cannot be
//! decoded fails and the others go on.

use llama_cpp_2::token::LlamaToken;

/// One slot's contribution to a decode step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// Index of the slot in the scheduler.
    pub(crate) slot: usize,
    /// The slot's sequence id.
    pub(crate) seq: i32,
    /// Position of the first token (the slot's cached length before this step).
    pub(crate) pos: i32,
    pub(crate) tokens: Vec<LlamaToken>,
    /// The last token's logits are wanted (to sample the next token).
    pub(crate) logits: bool,
    /// A chunk of the prompt (else the slot's last sampled token).
    pub(crate) prompt: bool,
    /// How many of the last tokens are drafted (speculative); each of them and the token
    /// before them gets logits.
    pub(crate) draft: usize,
}

/// What a decode step does with its parts.
pub(crate) trait Decode {
    /// Decode these parts in one batch. On failure the memory of every sequence in it must
    /// be back where it was before the call.
    fn decode(&mut self, parts: &[Part]) -> Result<(), String>;
    /// The parts decoded; their logits are ready (until the next `decode`).
    fn decoded(&mut self, parts: &[Part]);
    /// This part alone could not be decoded.
    fn failed(&mut self, part: &Part, why: &str);
}

/// Decode `parts` together; if that fails, decode each on its own, so one part that cannot
/// be decoded fails only its own request.
pub(crate) fn decode_isolated(d: &mut impl Decode, parts: &[Part]) {
    if parts.is_empty() {
        return;
    }
    match d.decode(parts) {
        Ok(()) => d.decoded(parts),
        Err(why) if parts.len() == 1 => d.failed(&parts[0], &why),
        Err(why) => {
            tracing::warn!(error = %why, parts = parts.len(), "decode failed; retrying each request on its own");
            for part in parts {
                decode_isolated(d, std::slice::from_ref(part));
            }
        }
    }
}

/// Index in the batch of each part's last token (where its logits are).
pub(crate) fn logit_indices(parts: &[Part]) -> Vec<i32> {
    let mut end = 0i32;
    parts
        .iter()
        .map(|p| {
            end += p.tokens.len() as i32;
            end - 1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails any batch holding sequence `bad`.
    #[derive(Default)]
    struct Fake {
        bad: i32,
        ok: Vec<Vec<i32>>,
        failed: Vec<i32>,
    }

    impl Decode for Fake {
        fn decode(&mut self, parts: &[Part]) -> Result<(), String> {
            if parts.iter().any(|p| p.seq == self.bad) {
                Err("no KV slot".into())
            } else {
                Ok(())
            }
        }
        fn decoded(&mut self, parts: &[Part]) {
            self.ok.push(parts.iter().map(|p| p.seq).collect());
        }
        fn failed(&mut self, part: &Part, _why: &str) {
            self.failed.push(part.seq);
        }
    }

    fn part(seq: i32, n: usize) -> Part {
        Part {
            slot: seq as usize,
            seq,
            pos: 0,
            tokens: vec![LlamaToken(1); n],
            logits: true,
            prompt: n > 1,
            draft: 0,
        }
    }

    #[test]
    fn a_failing_part_fails_alone_and_the_others_are_decoded() {
        let mut d = Fake {
            bad: 1,
            ..Fake::default()
        };
        decode_isolated(&mut d, &[part(0, 1), part(1, 30), part(2, 1)]);
        assert_eq!(d.failed, vec![1]);
        assert_eq!(d.ok, vec![vec![0], vec![2]]);
    }

    #[test]
    fn a_good_batch_is_decoded_once() {
        let mut d = Fake {
            bad: 9,
            ..Fake::default()
        };
        decode_isolated(&mut d, &[part(0, 1), part(1, 3)]);
        assert_eq!(d.ok, vec![vec![0, 1]]);
        assert!(d.failed.is_empty());
        assert_eq!(logit_indices(&[part(0, 1), part(1, 3)]), vec![0, 3]);
    }
}
