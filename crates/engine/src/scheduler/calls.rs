//! A request's tool-call state: looking for a call in the text, then streaming the call.
//!
//! With `tool_choice: auto` the model writes freely until [`Trigger`] sees a call start.
//! Then the slot is rolled back to the token where the call began and generation goes on
//! under the call grammar (llguidance), which must first reproduce the part of that token
//! that came before the call (`prefix`, already sent as content, so it is not sent again).
//! This is llama.cpp's lazy grammar, done by rollback: the grammar never has to be fed
//! tokens it did not choose. With `required` or a named function the grammar is on from the
//! first token and there is no trigger.

use edgellm_backend::{ToolCall, Tools};
use llama_cpp_2::token::LlamaToken;

use crate::trigger::{Trigger, TriggerCheck};

/// Where a token's text goes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// Content, safe to send (through the stop matcher).
    Content(String),
    /// Part of a call (kept in the call state until the answer ends).
    InCall,
    /// A call starts `at` bytes into the generated text; `content` precedes it.
    Starts { content: String, at: usize },
}

#[derive(Debug)]
pub(super) struct CallState {
    pub(super) tools: Tools,
    /// Looking for a call; `None` once in one.
    trigger: Option<Trigger>,
    /// Generated tokens, the byte offset where each one's text ends, and all their bytes.
    tokens: Vec<LlamaToken>,
    ends: Vec<usize>,
    raw: Vec<u8>,
    /// Bytes of regenerated text not to send again (the prefix before the call).
    skip: usize,
    /// The call part of the answer so far, in the model's syntax.
    call_text: String,
}

/// Where to roll back to for a call found at a byte offset.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Rewind {
    /// Generated tokens to keep.
    pub(super) keep: usize,
    /// Text of the first dropped token before the call, which the grammar must reproduce.
    pub(super) prefix: String,
}

impl CallState {
    /// `forced`: the answer is a call from the first token.
    pub(super) fn new(tools: Tools, forced: bool) -> Self {
        let trigger = (!forced).then(|| Trigger::new(tools.names()));
        Self {
            tools,
            trigger,
            tokens: Vec::new(),
            ends: Vec::new(),
            raw: Vec::new(),
            skip: 0,
            call_text: String::new(),
        }
    }

    pub(super) fn in_call(&self) -> bool {
        self.trigger.is_none()
    }

    /// Note a sampled token and its bytes.
    pub(super) fn record(&mut self, token: LlamaToken, piece: &[u8]) {
        self.tokens.push(token);
        self.raw.extend_from_slice(piece);
        self.ends.push(self.raw.len());
    }

    /// Generated tokens so far.
    pub(super) fn tokens(&self) -> &[LlamaToken] {
        &self.tokens
    }

    pub(super) fn scan(&mut self, text: String) -> Scan {
        let Some(trigger) = self.trigger.as_mut() else {
            let text = self.unskip(text);
            self.call_text.push_str(&text);
            return Scan::InCall;
        };
        match trigger.push(&text) {
            TriggerCheck::Content(t) => Scan::Content(t),
            TriggerCheck::Call { content, at } => Scan::Starts { content, at },
        }
    }

    /// Text held back as a possible call start, when generation ends without one.
    pub(super) fn finish(&mut self) -> Option<String> {
        self.trigger.as_mut().map(Trigger::finish)
    }

    /// Tokens to keep for a call at byte `at`, and where the first dropped one starts.
    fn split(&self, at: usize) -> (usize, usize, usize) {
        let at = at.min(self.raw.len());
        let keep = self.ends.iter().take_while(|&&end| end <= at).count();
        let start = if keep == 0 { 0 } else { self.ends[keep - 1] };
        (keep, start, at)
    }

    /// The text the call grammar must reproduce before a call at byte `at`.
    pub(super) fn prefix_at(&self, at: usize) -> String {
        let (_, start, at) = self.split(at);
        String::from_utf8_lossy(&self.raw[start..at]).into_owned()
    }

    /// Enter the call found at byte `at`: forget the tokens from the one holding `at`.
    pub(super) fn rewind(&mut self, at: usize) -> Rewind {
        let prefix = self.prefix_at(at);
        let (keep, start, _) = self.split(at);
        self.tokens.truncate(keep);
        self.ends.truncate(keep);
        self.raw.truncate(start);
        self.trigger = None;
        self.skip = prefix.len();
        Rewind { keep, prefix }
    }

    /// Enter a call without rolling back (no grammar could be built): the text from `at`
    /// on is the call.
    pub(super) fn enter_unconstrained(&mut self, at: usize) {
        self.trigger = None;
        let text = String::from_utf8_lossy(&self.raw[at.min(self.raw.len())..]).into_owned();
        self.call_text.push_str(&text);
    }

    /// The last bytes of a call's text, when generation ends inside it.
    pub(super) fn push_tail(&mut self, tail: &str) {
        self.call_text.push_str(tail);
    }

    /// When the answer ends inside a call: its calls, parsed once, if it `completed` (the
    /// model ended it) and they are a whole set; otherwise the call text, to be sent as
    /// content.
    pub(super) fn end_call(&mut self, completed: bool) -> Result<Vec<ToolCall>, String> {
        let text = std::mem::take(&mut self.call_text);
        match crate::tool_calls::parse(&text).filter(|_| completed) {
            Some(calls) => Ok(calls),
            None => Err(text),
        }
    }

    /// Drop the regenerated prefix from call text.
    fn unskip(&mut self, mut text: String) -> String {
        if self.skip == 0 {
            return text;
        }
        let mut cut = self.skip.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.skip -= cut;
        text.drain(..cut);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgellm_backend::ToolChoice;

    fn state() -> CallState {
        let tools = Tools {
            definitions: vec![
                serde_json::json!({"type": "function", "function": {"name": "ping"}}),
            ],
            choice: ToolChoice::Auto,
            parallel: false,
        };
        CallState::new(tools, false)
    }

    #[test]
    fn rewind_keeps_whole_tokens_before_the_call_and_returns_the_split_prefix() {
        let mut s = state();
        for (i, piece) in ["Hi", " ok", ": {\"", "name"].iter().enumerate() {
            s.record(LlamaToken(i as i32), piece.as_bytes());
        }
        // The call starts at the `{` inside the third token.
        let at = "Hi ok: ".len();
        assert_eq!(
            s.rewind(at),
            Rewind {
                keep: 2,
                prefix: ": ".into()
            }
        );
        assert_eq!(s.tokens(), &[LlamaToken(0), LlamaToken(1)]);
        assert!(s.in_call());
        // The regenerated prefix is not kept twice.
        assert_eq!(s.scan(":".into()), Scan::InCall);
        assert_eq!(s.scan(" {\"".into()), Scan::InCall);
        s.scan("name\": \"ping\", \"arguments\": {}}".into());
        let calls = s.end_call(true).unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].name, "ping");
    }

    #[test]
    fn a_call_the_model_did_not_finish_comes_back_as_text() {
        let mut s = state();
        s.record(LlamaToken(7), b"<tool_call>");
        s.rewind(0);
        s.scan("<tool_call>\n{\"name\": \"ping\", \"argu".into());
        assert_eq!(
            s.end_call(false),
            Err("<tool_call>\n{\"name\": \"ping\", \"argu".into())
        );
        // A complete call counts only when the model ended it.
        let mut s = state();
        s.record(LlamaToken(7), b"<tool_call>");
        s.rewind(0);
        let whole = "<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>";
        s.scan(whole.into());
        assert_eq!(s.end_call(false), Err(whole.into()));
    }

    #[test]
    fn a_call_at_the_first_byte_keeps_nothing() {
        let mut s = state();
        s.record(LlamaToken(7), b"<tool_call>");
        assert_eq!(
            s.rewind(0),
            Rewind {
                keep: 0,
                prefix: String::new()
            }
        );
    }
}
