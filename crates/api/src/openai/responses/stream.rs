//! The Responses stream, in the spec's order: `response.created`, `response.in_progress`;
//! per output item `response.output_item.added`, then for a message
//! `response.content_part.added`, `response.output_text.delta`..., `response.output_text.done`,
//! `response.content_part.done`, or for a call `response.function_call_arguments.delta` and
//! `.done`; `response.output_item.done`; and last `response.completed` (or
//! `response.incomplete` at `max_output_tokens`, `response.failed` on an error). Every event
//! carries `type` and a `sequence_number`.

use serde_json::{json, Value};

use super::output::{call_ids, call_item, message_item, new_id, text_part, Head, State};
use crate::generation::Piece;

/// The response as it is being built.
#[derive(Debug)]
pub struct Events {
    head: Head,
    sequence: u64,
    output: Vec<Value>,
    /// The open message's id and text so far.
    message: Option<(String, String)>,
}

type Out = Vec<(&'static str, Value)>;

impl Events {
    pub fn new(head: Head) -> Self {
        Self {
            head,
            sequence: 0,
            output: Vec::new(),
            message: None,
        }
    }

    fn push(&mut self, out: &mut Out, kind: &'static str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.push((kind, data));
    }

    /// The two events before any output.
    pub fn start(&mut self) -> Out {
        let mut out = Vec::new();
        let response = self.head.response(State {
            status: "in_progress",
            output: &[],
            usage: None,
            incomplete: false,
            error: None,
        });
        self.push(
            &mut out,
            "response.created",
            json!({ "response": response }),
        );
        self.push(
            &mut out,
            "response.in_progress",
            json!({ "response": response }),
        );
        out
    }

    /// The events one piece of the answer becomes.
    pub fn events(&mut self, piece: Piece) -> Out {
        let mut out = Vec::new();
        match piece {
            Piece::Text(delta) => {
                if self.message.is_none() {
                    self.open_message(&mut out);
                }
                let index = self.output.len();
                let Some((id, text)) = self.message.as_mut() else {
                    return out;
                };
                text.push_str(&delta);
                let id = id.clone();
                self.push(
                    &mut out,
                    "response.output_text.delta",
                    json!({ "item_id": id, "output_index": index, "content_index": 0,
                        "delta": delta, "logprobs": [] }),
                );
            }
            Piece::Calls(calls) => {
                self.close_message(&mut out, "completed");
                for c in calls {
                    let (id, call_id) = call_ids();
                    let index = self.output.len();
                    let arguments = c.arguments.to_string();
                    let item = call_item(&id, &call_id, &c, "", "in_progress");
                    self.push(
                        &mut out,
                        "response.output_item.added",
                        json!({ "output_index": index, "item": item }),
                    );
                    self.push(
                        &mut out,
                        "response.function_call_arguments.delta",
                        json!({ "item_id": id, "output_index": index, "delta": arguments }),
                    );
                    self.push(
                        &mut out,
                        "response.function_call_arguments.done",
                        json!({ "item_id": id, "output_index": index, "name": c.name,
                            "arguments": arguments }),
                    );
                    let item = call_item(&id, &call_id, &c, &arguments, "completed");
                    self.push(
                        &mut out,
                        "response.output_item.done",
                        json!({ "output_index": index, "item": item }),
                    );
                    self.output.push(item);
                }
            }
            Piece::Done {
                finish_reason,
                usage,
                ..
            } => {
                if self.output.is_empty() && self.message.is_none() {
                    // Every answer has an output item, as the whole one does.
                    self.open_message(&mut out);
                }
                let state = State::finished(&[], finish_reason, &usage);
                let item_status = if state.incomplete {
                    "incomplete"
                } else {
                    "completed"
                };
                self.close_message(&mut out, item_status);
                let response = self.head.response(State {
                    output: &self.output,
                    ..state
                });
                let kind = if state.incomplete {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                self.push(&mut out, kind, json!({ "response": response }));
            }
            // `top_logprobs` is refused on this route, so none are asked for.
            Piece::Logprobs(_) => {}
            Piece::Error(e) => {
                self.close_message(&mut out, "incomplete");
                let error = json!({ "code": "server_error", "message": e.to_string() });
                let response = self.head.response(State {
                    status: "failed",
                    output: &self.output,
                    usage: None,
                    incomplete: false,
                    error: Some(&error),
                });
                self.push(&mut out, "response.failed", json!({ "response": response }));
            }
        }
        out
    }

    fn open_message(&mut self, out: &mut Out) {
        let id = new_id("msg");
        let index = self.output.len();
        let mut item = message_item(&id, "", "in_progress");
        item["content"] = json!([]);
        self.push(
            out,
            "response.output_item.added",
            json!({ "output_index": index, "item": item }),
        );
        self.push(
            out,
            "response.content_part.added",
            json!({ "item_id": id, "output_index": index, "content_index": 0, "part": text_part("") }),
        );
        self.message = Some((id, String::new()));
    }

    fn close_message(&mut self, out: &mut Out, status: &str) {
        let Some((id, text)) = self.message.take() else {
            return;
        };
        let index = self.output.len();
        self.push(
            out,
            "response.output_text.done",
            json!({ "item_id": id, "output_index": index, "content_index": 0, "text": text,
                "logprobs": [] }),
        );
        self.push(
            out,
            "response.content_part.done",
            json!({ "item_id": id, "output_index": index, "content_index": 0,
                "part": text_part(&text) }),
        );
        let item = message_item(&id, &text, status);
        self.push(
            out,
            "response.output_item.done",
            json!({ "output_index": index, "item": item }),
        );
        self.output.push(item);
    }
}
