//! Stop strings: end generation before a stop string and never send any part of it.
//!
//! Text that could be the start of a stop string is held back until it either completes the
//! stop string (generation ends, the held text is dropped) or diverges (it is released).

/// Result of feeding text to a [`StopMatcher`].
#[derive(Debug, PartialEq, Eq)]
pub enum StopCheck {
    /// Text that is safe to send now.
    Continue(String),
    /// A stop string matched; send this text, then finish.
    Stopped(String),
}

/// Per-sequence stop string state.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
    /// The stop string that ended generation, once one has.
    matched: Option<String>,
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        let stops = stops.into_iter().filter(|s| !s.is_empty()).collect();
        Self {
            stops,
            held: String::new(),
            matched: None,
        }
    }

    pub fn push(&mut self, text: &str) -> StopCheck {
        if self.stops.is_empty() {
            return StopCheck::Continue(text.to_owned());
        }
        self.held.push_str(text);
        // The stop that completes first in the stream (earliest end; of two ending at the
        // same place, the longer), whatever the pieces were: as if fed byte by byte.
        let first_match = self
            .stops
            .iter()
            .enumerate()
            .filter_map(|(i, s)| self.held.find(s.as_str()).map(|at| (at + s.len(), at, i)))
            .min_by_key(|&(end, at, _)| (end, at));
        if let Some((_, at, i)) = first_match {
            let out = self.held[..at].to_owned();
            self.held.clear();
            self.matched = Some(self.stops[i].clone());
            return StopCheck::Stopped(out);
        }
        let keep = self.longest_partial_suffix();
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_owned();
        self.held.drain(..cut);
        StopCheck::Continue(out)
    }

    /// The stop string that matched, if one did (Anthropic's `stop_sequence`).
    pub fn matched(&self) -> Option<&str> {
        self.matched.as_deref()
    }

    /// Held text, released when generation ends for another reason.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Length in bytes of the longest suffix of `held` that is a proper prefix of a stop string.
    fn longest_partial_suffix(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            for (i, _) in self.held.char_indices() {
                let suffix = &self.held[i..];
                if suffix.len() > best && stop.starts_with(suffix) {
                    best = suffix.len();
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(m: &mut StopMatcher, pieces: &[&str]) -> (String, bool) {
        let mut out = String::new();
        for p in pieces {
            match m.push(p) {
                StopCheck::Continue(t) => out.push_str(&t),
                StopCheck::Stopped(t) => {
                    out.push_str(&t);
                    return (out, true);
                }
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn stop_split_across_pieces_is_not_sent() {
        let mut m = StopMatcher::new(vec!["END".into()]);
        assert_eq!(
            feed(&mut m, &["hello E", "N", "D more"]),
            ("hello ".into(), true)
        );
    }

    #[test]
    fn false_start_is_released() {
        let mut m = StopMatcher::new(vec!["END".into()]);
        assert_eq!(feed(&mut m, &["E", "N", "x"]), ("ENx".into(), false));
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let mut m = StopMatcher::new(vec!["cd".into(), "b".into()]);
        assert_eq!(feed(&mut m, &["abcd"]), ("a".into(), true));
        assert_eq!(m.matched(), Some("b"));
        let mut m = StopMatcher::new(vec!["bc".into(), "abc".into()]);
        assert_eq!(feed(&mut m, &["xabcd"]), ("x".into(), true));
        assert_eq!(
            m.matched(),
            Some("abc"),
            "the longer of two ending together"
        );
        let mut m = StopMatcher::new(vec!["zz".into()]);
        feed(&mut m, &["abc"]);
        assert_eq!(m.matched(), None);
    }

    #[test]
    fn no_stops_passes_through() {
        let mut m = StopMatcher::new(vec![String::new()]);
        assert_eq!(m.push("x"), StopCheck::Continue("x".into()));
    }

    #[test]
    fn multibyte_held_text_is_cut_on_char_boundaries() {
        let mut m = StopMatcher::new(vec!["你好!".into()]);
        assert_eq!(feed(&mut m, &["a你", "好", "b"]), ("a你好b".into(), false));
    }
}
