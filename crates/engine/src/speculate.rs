//! Prompt-lookup speculative decoding: drafting from the request's own tokens, and deciding
//! when a draft pays.
//!
//! A generating slot looks up the longest recent n-gram of its tokens (prompt and output) in
//! those same tokens and drafts the continuation that followed it. The scheduler decodes the
//! slot's next token and the draft in one batch and keeps the drafted tokens the model would
//! have sampled anyway (see `scheduler::verify`); the output is what plain decoding gives.
//!
//! Drafting is worth it only when enough of a draft is accepted to pay for the extra tokens in
//! the batch. Two estimates decide it, both measured while serving:
//! - per slot, the chance that a drafted token is accepted ([`Acceptance`]), learned from
//!   real drafts and, while not drafting, from "shadow" drafts checked against the tokens the
//!   slot goes on to sample (free: nothing is decoded for them);
//! - for the device, what one more token in a decode batch costs relative to a one-token step
//!   ([`StepCost`]), fitted from the step times of generation-only batches.

use llama_cpp_2::token::LlamaToken;

/// Longest and shortest n-gram looked up (the longest match wins).
const NGRAM_MAX: usize = 4;
const NGRAM_MIN: usize = 2;

/// The tokens that followed the most recent earlier occurrence of the longest suffix n-gram of
/// `history` (between `NGRAM_MIN` and `NGRAM_MAX` tokens), at most `max` of them.
pub(crate) fn lookup(history: &[LlamaToken], max: usize) -> Vec<LlamaToken> {
    let len = history.len();
    if max == 0 {
        return Vec::new();
    }
    for n in (NGRAM_MIN..=NGRAM_MAX.min(len.saturating_sub(1))).rev() {
        let key = &history[len - n..];
        // Most recent occurrence first, not the suffix itself.
        let found = (0..len - n)
            .rev()
            .find(|&i| &history[i..i + n] == key)
            .map(|i| i + n);
        if let Some(start) = found {
            let end = (start + max).min(len);
            return history[start..end].to_vec();
        }
    }
    Vec::new()
}

/// How well one slot's drafts are accepted: decayed counts of accepted drafted tokens (hits)
/// and of drafts cut short by a rejection (misses). Each drafted token is accepted with about
/// `hits / (hits + misses)` (the geometric model of a run of matches).
#[derive(Debug, Clone)]
pub(crate) struct Acceptance {
    hits: f32,
    misses: f32,
    /// A draft not decoded, checked against the tokens the slot samples next.
    shadow: Vec<LlamaToken>,
    shadow_hits: usize,
}

/// Weight kept by older observations at each new draft.
const DECAY: f32 = 0.9;

impl Default for Acceptance {
    fn default() -> Self {
        // Prior p = 0.3, weighing as much as two drafts: too low to draft at the usual cost,
        // so a request starts with shadow drafts, and one matched shadow draft lifts it.
        Self {
            hits: 0.6,
            misses: 1.4,
            shadow: Vec::new(),
            shadow_hits: 0,
        }
    }
}

impl Acceptance {
    /// The estimated chance that a drafted token is accepted.
    pub(crate) fn p(&self) -> f32 {
        self.hits / (self.hits + self.misses)
    }

    /// A draft of `drafted` tokens was checked and its first `accepted` kept; `cut` says a
    /// drafted token was rejected (not just left unchecked because the request ended).
    pub(crate) fn record(&mut self, accepted: usize, cut: bool) {
        self.hits = self.hits * DECAY + accepted as f32;
        self.misses = self.misses * DECAY + f32::from(u8::from(cut));
    }

    /// How many of `available` drafted tokens to decode: the count that maximises expected
    /// tokens per unit of step time, where one more token in the batch costs `cost` (a
    /// one-token step costs 1).
    pub(crate) fn choose(&self, available: usize, cost: f32) -> usize {
        let p = self.p();
        let mut best = (1.0, 0);
        let mut expected = 1.0;
        let mut run = 1.0;
        for k in 1..=available {
            run *= p;
            expected += run;
            let rate = expected / (1.0 + cost * k as f32);
            if rate > best.0 {
                best = (rate, k);
            }
        }
        best.1
    }

    /// Remember a draft that was not decoded, to check it against what the slot samples.
    pub(crate) fn shadow(&mut self, draft: Vec<LlamaToken>) {
        if self.shadow.is_empty() {
            self.shadow = draft;
            self.shadow_hits = 0;
        }
    }

    /// Whether a shadow draft is being checked.
    pub(crate) fn shadowing(&self) -> bool {
        !self.shadow.is_empty()
    }

    /// Drop the shadow draft unscored (a real draft replaces it).
    pub(crate) fn clear_shadow(&mut self) {
        self.shadow.clear();
    }

    /// The slot sampled `token` (outside a real draft): score the shadow draft.
    pub(crate) fn observe(&mut self, token: LlamaToken) {
        let Some(&want) = self.shadow.get(self.shadow_hits) else {
            return;
        };
        if want == token {
            self.shadow_hits += 1;
            if self.shadow_hits == self.shadow.len() {
                self.record(self.shadow_hits, false);
                self.shadow.clear();
            }
        } else {
            self.record(self.shadow_hits, true);
            self.shadow.clear();
        }
    }
}

/// What one more token in a decode batch costs relative to a one-token step, fitted as
/// `time = a + b * tokens` by least squares with forgetting over generation-only steps.
#[derive(Debug, Clone)]
pub(crate) struct StepCost {
    /// Weighted sums: weight, n, n², t, n·t.
    s: [f64; 5],
}

/// Before the fit has seen batches of different sizes: measured on a 2-core x86 machine with
/// the 0.5B model (0.2-0.3); a board with less compute per byte of memory bandwidth than that
/// is fitted within a few drafts.
const PRIOR_COST: f32 = 0.3;
/// Weight kept by older steps at each new one (a memory of a few hundred steps).
const FORGET: f64 = 0.995;

impl Default for StepCost {
    fn default() -> Self {
        Self { s: [0.0; 5] }
    }
}

impl StepCost {
    /// A generation-only step decoded `tokens` tokens in `secs`.
    pub(crate) fn observe(&mut self, tokens: usize, secs: f64) {
        let n = tokens as f64;
        for (s, v) in self.s.iter_mut().zip([1.0, n, n * n, secs, n * secs]) {
            *s = *s * FORGET + v;
        }
    }

    /// The marginal cost of one more token, as a fraction of a one-token step.
    pub(crate) fn marginal(&self) -> f32 {
        let [w, n, nn, t, nt] = self.s;
        let spread = w * nn - n * n;
        // Too little variety in batch sizes to fit a slope.
        if w < 8.0 || spread < 0.5 * w * w {
            return PRIOR_COST;
        }
        let b = (w * nt - n * t) / spread;
        let a = (t - b * n) / w;
        let one = a + b;
        if one <= 0.0 || !b.is_finite() {
            return PRIOR_COST;
        }
        ((b / one) as f32).clamp(0.02, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(v: &[i32]) -> Vec<LlamaToken> {
        v.iter().map(|&t| LlamaToken(t)).collect()
    }

    #[test]
    fn lookup_drafts_what_followed_the_longest_recent_match() {
        // "3 4" occurred before, followed by 5 6 7.
        let h = toks(&[1, 2, 3, 4, 5, 6, 7, 8, 3, 4]);
        assert_eq!(lookup(&h, 3), toks(&[5, 6, 7]));
        assert_eq!(lookup(&h, 10), toks(&[5, 6, 7, 8, 3, 4]));
        // The longer match wins over a more recent shorter one.
        let h = toks(&[9, 3, 4, 1, 2, 3, 4, 7, 3, 4, 0, 2, 3, 4]);
        assert_eq!(lookup(&h, 2), toks(&[7, 3]));
        // The most recent of equal matches.
        let h = toks(&[3, 4, 1, 3, 4, 2, 3, 4]);
        assert_eq!(lookup(&h, 1), toks(&[2]));
        // No match, too short, or nothing wanted.
        assert!(lookup(&toks(&[1, 2, 3, 4]), 4).is_empty());
        assert!(lookup(&toks(&[1]), 4).is_empty());
        assert!(lookup(&toks(&[1, 2, 1, 2]), 0).is_empty());
        // A single repeated token is not enough (n >= 2).
        assert!(lookup(&toks(&[5, 1, 2, 5]), 4).is_empty());
    }

    #[test]
    fn acceptance_learns_from_drafts_and_shadows() {
        let mut a = Acceptance::default();
        assert!((a.p() - 0.3).abs() < 1e-6);
        assert_eq!(a.choose(8, PRIOR_COST), 0, "the prior alone does not draft");
        for _ in 0..10 {
            a.record(4, true);
        }
        assert!(a.p() > 0.75, "{}", a.p());
        let mut b = Acceptance::default();
        for _ in 0..10 {
            b.record(0, true);
        }
        assert!(b.p() < 0.15, "{}", b.p());
        // A shadow draft: two tokens match, the third does not.
        let mut s = Acceptance::default();
        s.shadow(toks(&[7, 8, 9]));
        assert!(s.shadowing());
        s.observe(LlamaToken(7));
        s.observe(LlamaToken(8));
        s.observe(LlamaToken(1));
        assert!(!s.shadowing());
        assert!((s.hits - (0.54 + 2.0)).abs() < 1e-5 && (s.misses - 2.26).abs() < 1e-5);
        // A fully matched shadow counts no miss, and one of eight tokens makes drafting pay.
        s.shadow(toks(&[3, 3, 3, 3, 3, 3, 3, 3]));
        for _ in 0..8 {
            s.observe(LlamaToken(3));
        }
        assert!(!s.shadowing());
        assert!((s.misses - 2.034).abs() < 1e-5);
        let mut fresh = Acceptance::default();
        fresh.shadow(toks(&[1; 8]));
        for _ in 0..8 {
            fresh.observe(LlamaToken(1));
        }
        assert!(fresh.choose(8, PRIOR_COST) >= 4, "{}", fresh.p());
    }

    #[test]
    fn choose_drafts_only_when_it_pays() {
        let mut good = Acceptance::default();
        for _ in 0..20 {
            good.record(8, false);
        }
        let mut bad = Acceptance::default();
        for _ in 0..20 {
            bad.record(0, true);
        }
        assert_eq!(bad.choose(8, 0.3), 0);
        assert_eq!(good.choose(8, 0.3), 8);
        assert_eq!(good.choose(0, 0.3), 0);
        // p = 0.8: three tokens pay at cost 0.3, one at 0.6.
        let mut fair = Acceptance::default();
        for _ in 0..60 {
            fair.record(4, true);
        }
        assert!((fair.p() - 0.8).abs() < 0.01, "{}", fair.p());
        assert_eq!(fair.choose(8, 0.3), 3);
        assert_eq!(fair.choose(8, 0.6), 1);
        // p = 0.5: one token pays at cost 0.25, none at 0.5.
        let mut mid = Acceptance::default();
        for _ in 0..20 {
            mid.record(1, true);
        }
        assert_eq!(mid.choose(8, 0.25), 1);
        assert_eq!(mid.choose(8, 0.5), 0);
    }

    #[test]
    fn step_cost_fits_the_marginal_token() {
        let mut c = StepCost::default();
        assert_eq!(c.marginal(), PRIOR_COST);
        // Only one-token steps: no slope to fit.
        for _ in 0..50 {
            c.observe(1, 0.020);
        }
        assert_eq!(c.marginal(), PRIOR_COST);
        // time = 0.016 + 0.004 n: a one-token step is 0.020, one more token 0.2 of it.
        for i in 0..100 {
            let n = 1 + i % 9;
            c.observe(n, 0.016 + 0.004 * n as f64);
        }
        assert!((c.marginal() - 0.2).abs() < 0.01, "{}", c.marginal());
    }
}
