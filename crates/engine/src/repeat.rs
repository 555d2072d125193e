//! The loop guard: notices when an answer has fallen into repeating one stretch of tokens
//! over and over, which small models do (a 0.5B model answering Home Assistant's prompt
//! repeated one sentence inside a tool call until the context was full: minutes of a Pi's
//! only engine, while the client, waiting for the call to end, saw nothing). Ollama and
//! llama-server generate until the context is full; their users ask for a way out
//! (ollama#7078, #14377). `--loop-guard N` ends such an answer with finish reason `length`
//! once its last N tokens are one stretch of at most [`MAX_PERIOD`] tokens repeated.
//!
//! Cost: one comparison per period per token, against the last [`MAX_PERIOD`] tokens.

use std::collections::VecDeque;

/// The longest repeated stretch looked for, in tokens (a sentence or two).
pub const MAX_PERIOD: usize = 64;

/// The shortest `--loop-guard` span: two of the longest stretches looked for.
pub const MIN_SPAN: u32 = 2 * MAX_PERIOD as u32;

/// A repeat must cover its stretch at least this many times.
const MIN_REPEATS: usize = 3;

/// Watches one answer's generated tokens.
#[derive(Debug)]
pub(crate) struct LoopGuard {
    /// Tokens of repetition that end the answer.
    span: usize,
    /// The last [`MAX_PERIOD`] tokens, newest last.
    recent: VecDeque<i32>,
    /// `runs[p - 1]`: how many tokens in a row equal the token `p` before them.
    runs: [usize; MAX_PERIOD],
}

/// What [`LoopGuard::push`] found: the answer's last `span` tokens repeat `period` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loop {
    pub(crate) period: usize,
    pub(crate) span: usize,
}

impl LoopGuard {
    /// `span`: how many tokens of repetition end the answer (the config keeps it at least
    /// [`MIN_SPAN`]).
    pub(crate) fn new(span: usize) -> Self {
        LoopGuard {
            span,
            recent: VecDeque::with_capacity(MAX_PERIOD),
            runs: [0; MAX_PERIOD],
        }
    }

    /// The guard `--loop-guard` asks for: `None` when it is 0 (off).
    pub(crate) fn configured(span: u32) -> Option<Self> {
        (span > 0).then(|| LoopGuard::new(span as usize))
    }

    /// Take the next generated token; `Some` once the answer loops.
    pub(crate) fn push(&mut self, token: i32) -> Option<Loop> {
        let n = self.recent.len();
        let mut found = None;
        for period in 1..=MAX_PERIOD {
            let run = &mut self.runs[period - 1];
            if period <= n && self.recent[n - period] == token {
                *run += 1;
            } else {
                *run = 0;
            }
            // The first copy of the stretch plus the tokens that repeated it.
            let covered = *run + period;
            if found.is_none()
                && *run > 0
                && covered >= self.span
                && covered >= MIN_REPEATS * period
            {
                found = Some(Loop {
                    period,
                    span: covered,
                });
            }
        }
        if n == MAX_PERIOD {
            self.recent.pop_front();
        }
        self.recent.push_back(token);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `tokens`; the index (1-based count) at which the guard fired, if it did.
    fn fires_at(span: usize, tokens: impl IntoIterator<Item = i32>) -> Option<(usize, Loop)> {
        let mut guard = LoopGuard::new(span);
        tokens
            .into_iter()
            .enumerate()
            .find_map(|(i, t)| guard.push(t).map(|l| (i + 1, l)))
    }

    #[test]
    fn a_repeated_sentence_is_stopped_once_it_covers_the_span() {
        let sentence: Vec<i32> = (100..116).collect();
        let intro = [1, 2, 3, 4, 5];
        let answer = intro
            .iter()
            .copied()
            .chain(sentence.iter().copied().cycle().take(16 * 40));
        let (at, found) = fires_at(128, answer).unwrap();
        assert_eq!(
            found,
            Loop {
                period: 16,
                span: 128
            }
        );
        assert_eq!(at, intro.len() + 128);
    }

    #[test]
    fn one_token_over_and_over_is_a_loop() {
        let (at, found) = fires_at(64, std::iter::repeat_n(7, 100)).unwrap();
        assert_eq!((at, found.period), (64, 1));
    }

    #[test]
    fn text_that_only_resembles_itself_is_not_a_loop() {
        // Counting: every stretch differs from the one before it.
        assert_eq!(fires_at(64, 0..2000), None);
        // A table whose rows share most tokens but not all.
        let rows = (0..200).flat_map(|r| [10, 11, 12, 1000 + r, 13]);
        assert_eq!(fires_at(64, rows), None);
        // A repeat shorter than the span.
        let short = (0..5).flat_map(|_| 20..30).chain(500..700);
        assert_eq!(fires_at(128, short), None);
    }

    #[test]
    fn stretches_longer_than_the_longest_period_are_not_tracked() {
        let long: Vec<i32> = (0..(MAX_PERIOD as i32 + 1)).collect();
        let answer = long.iter().copied().cycle().take(long.len() * 10);
        assert_eq!(fires_at(128, answer), None);
    }

    #[test]
    fn a_broken_repeat_starts_counting_again() {
        let mut answer: Vec<i32> = std::iter::repeat_n([1, 2], 30).flatten().collect();
        answer.push(99);
        answer.extend(std::iter::repeat_n([1, 2], 30).flatten());
        // 60 + 1 + 60 tokens: neither run of repeats covers 64 on its own.
        assert_eq!(fires_at(64, answer.clone()), None);
        answer.extend([1, 2, 1, 2]);
        assert!(fires_at(64, answer).is_some());
    }
}
