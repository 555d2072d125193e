//! Spotting the start of a tool call in generated text, so it never reaches `content`.
//!
//! Qwen2.5 writes a call as `<tool_call>\n{"name": .., "arguments": ..}\n</tool_call>`, and
//! the small models often write just the object. Both start a call: `<tool_call>`, or `{`
//! followed by `"name"`, `:` and the quoted name of one of the request's tools (whitespace
//! allowed in between, as llama.cpp's Hermes handling accepts), so JSON about something else
//! stays content. Text that could still become a trigger is held back until it does or
//! cannot.

pub(crate) const TAG: &str = "<tool_call>";

/// What feeding text to a [`Trigger`] gives.
#[derive(Debug, PartialEq, Eq)]
pub enum TriggerCheck {
    /// Content that is safe to send now.
    Content(String),
    /// A call starts `at` bytes into all text fed so far; `content` is the text before it
    /// that was not sent yet.
    Call { content: String, at: usize },
}

/// Per-request call-start detector.
#[derive(Debug)]
pub struct Trigger {
    names: Vec<String>,
    held: String,
    /// Bytes of text released before `held`.
    released: usize,
}

/// How far a text starting at a candidate position matches a trigger.
#[derive(Debug, PartialEq, Eq)]
enum Match {
    Full,
    Partial,
    No,
}

impl Trigger {
    pub fn new(names: Vec<String>) -> Self {
        Self {
            names,
            held: String::new(),
            released: 0,
        }
    }

    pub fn push(&mut self, text: &str) -> TriggerCheck {
        self.held.push_str(text);
        let found = self
            .held
            .char_indices()
            .filter(|&(_, c)| c == '<' || c == '{')
            .map(|(i, _)| (i, self.matches(&self.held[i..])))
            .find(|(_, m)| *m != Match::No);
        let cut = match found {
            Some((i, Match::Full)) => {
                let content = self.held[..i].to_owned();
                let at = self.released + i;
                self.released += self.held.len();
                self.held.clear();
                return TriggerCheck::Call { content, at };
            }
            Some((i, _)) => i,
            None => self.held.len(),
        };
        let out: String = self.held.drain(..cut).collect();
        self.released += out.len();
        TriggerCheck::Content(out)
    }

    /// Held text, released when generation ends.
    pub fn finish(&mut self) -> String {
        self.released += self.held.len();
        std::mem::take(&mut self.held)
    }

    fn matches(&self, s: &str) -> Match {
        if s.starts_with('<') {
            return if s.starts_with(TAG) {
                Match::Full
            } else if TAG.starts_with(s) {
                Match::Partial
            } else {
                Match::No
            };
        }
        // `{` ws `"name"` ws `:` ws `"` NAME `"`
        let mut rest = &s[1..];
        for literal in ["\"name\"", ":", "\""] {
            rest = rest.trim_start();
            if rest.is_empty() {
                return Match::Partial;
            }
            if let Some(r) = rest.strip_prefix(literal) {
                rest = r;
            } else if literal.starts_with(rest) {
                return Match::Partial;
            } else {
                return Match::No;
            }
        }
        let mut best = Match::No;
        for name in &self.names {
            let quoted = format!("{name}\"");
            if rest.starts_with(&quoted) {
                return Match::Full;
            }
            if quoted.starts_with(rest) {
                best = Match::Partial;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&str]) -> (String, Option<usize>) {
        let mut t = Trigger::new(vec!["get_weather".into(), "ping".into()]);
        let mut content = String::new();
        for p in pieces {
            match t.push(p) {
                TriggerCheck::Content(c) => content.push_str(&c),
                TriggerCheck::Call { content: c, at } => {
                    content.push_str(&c);
                    return (content, Some(at));
                }
            }
        }
        content.push_str(&t.finish());
        (content, None)
    }

    #[test]
    fn tagged_and_bare_calls_are_found_across_pieces() {
        assert_eq!(
            run(&["Sure. <tool", "_call>\n{"]),
            ("Sure. ".into(), Some(6))
        );
        assert_eq!(
            run(&["{\"na", "me\": \"get_", "weather\", \"arguments\""]),
            (String::new(), Some(0))
        );
        assert_eq!(
            run(&["ok\n", "{ \"name\" :\"ping\"}"]),
            ("ok\n".into(), Some(3))
        );
    }

    #[test]
    fn other_json_and_tags_stay_content() {
        let json = "{\"name\": \"Alice\", \"age\": 3}";
        assert_eq!(run(&[json]), (json.into(), None));
        assert_eq!(run(&["a <b> {x}"]), ("a <b> {x}".into(), None));
        // An unfinished possible trigger is released at the end.
        assert_eq!(
            run(&["see {\"name\": \"pi"]),
            ("see {\"name\": \"pi".into(), None)
        );
    }

    #[test]
    fn held_text_is_released_once_it_diverges() {
        let mut t = Trigger::new(vec!["ping".into()]);
        assert_eq!(t.push("x <tool"), TriggerCheck::Content("x ".into()));
        assert_eq!(t.push("box"), TriggerCheck::Content("<toolbox".into()));
        assert_eq!(
            t.push("<tool_call>"),
            TriggerCheck::Call {
                content: String::new(),
                at: 10
            }
        );
    }
}
