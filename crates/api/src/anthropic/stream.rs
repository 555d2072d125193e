//! The Messages stream: after `message_start`, each content block is opened
//! (`content_block_start`), filled (`text_delta`, or one `input_json_delta` with a call's
//! arguments) and closed (`content_block_stop`); `message_delta` carries the stop reason and
//! usage, `message_stop` ends it. An error mid-stream is an `error` event.

use serde_json::{json, Value};

use super::{new_id, stop_reason, stream_error, usage_json};
use crate::generation::Piece;

/// The open block and the next block's index.
#[derive(Debug, Default)]
pub struct Blocks {
    index: usize,
    text_open: bool,
    any: bool,
}

type Out = Vec<(&'static str, Value)>;

impl Blocks {
    /// The events one piece of the answer becomes.
    pub fn events(&mut self, piece: Piece) -> Out {
        let mut out = Vec::new();
        match piece {
            Piece::Text(t) => {
                if !self.text_open {
                    self.open_text(&mut out);
                }
                out.push((
                    "content_block_delta",
                    json!({ "type": "content_block_delta", "index": self.index,
                        "delta": { "type": "text_delta", "text": t } }),
                ));
            }
            Piece::Calls(calls) => {
                self.close_text(&mut out);
                for c in calls {
                    let index = self.index;
                    out.push((
                        "content_block_start",
                        json!({ "type": "content_block_start", "index": index,
                            "content_block": { "type": "tool_use", "id": new_id("toolu"),
                                "name": c.name, "input": {} } }),
                    ));
                    out.push((
                        "content_block_delta",
                        json!({ "type": "content_block_delta", "index": index,
                            "delta": { "type": "input_json_delta",
                                "partial_json": c.arguments.to_string() } }),
                    ));
                    out.push(stop(index));
                    self.index += 1;
                    self.any = true;
                }
            }
            Piece::Done {
                finish_reason,
                usage,
                stop_sequence,
                ..
            } => {
                if !self.any {
                    // Every answer has a content block, as the whole one does.
                    self.open_text(&mut out);
                }
                self.close_text(&mut out);
                let reason = stop_reason(finish_reason, stop_sequence.as_deref());
                out.push((
                    "message_delta",
                    json!({ "type": "message_delta",
                        "delta": { "stop_reason": reason, "stop_sequence": stop_sequence },
                        "usage": usage_json(&usage) }),
                ));
                out.push(("message_stop", json!({ "type": "message_stop" })));
            }
            Piece::Error(e) => out.push(("error", stream_error(&e))),
            // Anthropic's API has no log probabilities (none are asked for).
            Piece::Logprobs(_) => {}
        }
        out
    }

    fn open_text(&mut self, out: &mut Out) {
        out.push((
            "content_block_start",
            json!({ "type": "content_block_start", "index": self.index,
                "content_block": { "type": "text", "text": "" } }),
        ));
        self.text_open = true;
        self.any = true;
    }

    fn close_text(&mut self, out: &mut Out) {
        if self.text_open {
            out.push(stop(self.index));
            self.text_open = false;
            self.index += 1;
        }
    }
}

fn stop(index: usize) -> (&'static str, Value) {
    (
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": index }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgellm_backend::{FinishReason, Timings, ToolCall, Usage};

    fn done(reason: FinishReason) -> Piece {
        Piece::Done {
            finish_reason: reason,
            usage: Usage::default(),
            timings: Timings::default(),
            stop_sequence: None,
        }
    }

    fn names(out: &Out) -> Vec<&'static str> {
        out.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn text_then_call_opens_and_closes_each_block() {
        let mut b = Blocks::default();
        let mut out = b.events(Piece::Text("Hi".into()));
        out.extend(b.events(Piece::Text("!".into())));
        out.extend(b.events(Piece::Calls(vec![ToolCall {
            name: "f".into(),
            arguments: json!({"x": 1}),
        }])));
        out.extend(b.events(done(FinishReason::ToolCalls)));
        assert_eq!(
            names(&out),
            [
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(out[3].1["index"], 0);
        assert_eq!(out[4].1["index"], 1);
        assert_eq!(out[4].1["content_block"]["name"], "f");
        assert_eq!(out[5].1["delta"]["partial_json"], r#"{"x":1}"#);
        assert_eq!(out[7].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn an_empty_answer_still_has_a_text_block() {
        let mut b = Blocks::default();
        let out = b.events(done(FinishReason::Length));
        assert_eq!(
            names(&out),
            [
                "content_block_start",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(out[2].1["delta"]["stop_reason"], "max_tokens");
    }
}
