//! Reading the calls in the tool-call part of an answer, in the model's syntax (Qwen2.5's
//! `<tool_call>{"name": .., "arguments": {..}}</tool_call>` blocks, or bare
//! `{"name": .., "arguments": ..}` objects; see [`crate::trigger`] for spotting their start).
//! This is the only place that parses it: the engine sends finished
//! [`ToolCall`]s across the seam.

use edgellm_backend::ToolCall;
use serde_json::{json, Value};

use crate::trigger::TAG;

const END_TAG: &str = "</tool_call>";

/// The calls in `text`, or `None` when it is not a complete set of calls (cut off by
/// `max_tokens`, say); the answer then carries it as text.
pub fn parse(text: &str) -> Option<Vec<ToolCall>> {
    let mut calls = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest
            .strip_prefix(TAG)
            .or_else(|| rest.strip_prefix(END_TAG))
        {
            rest = r;
            continue;
        }
        if rest.is_empty() {
            break;
        }
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let value = values.next()?.ok()?;
        rest = &rest[values.byte_offset()..];
        let name = value["name"].as_str()?.to_owned();
        let arguments = match &value["arguments"] {
            Value::Object(_) => value["arguments"].clone(),
            Value::String(s) => serde_json::from_str(s).ok().filter(Value::is_object)?,
            Value::Null => json!({}),
            _ => return None,
        };
        calls.push(ToolCall { name, arguments });
    }
    (!calls.is_empty()).then_some(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_parsed_in_both_forms() {
        let tagged = "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>";
        let calls = parse(tagged).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].arguments, json!({"x": 1}));
        assert_eq!(calls[1].name, "b");
        let bare = parse("{\"name\": \"a\", \"arguments\": \"{\\\"x\\\": 2}\"}").unwrap();
        assert_eq!(bare[0].arguments, json!({"x": 2}));
        assert_eq!(parse("{\"name\": \"a\"}").unwrap()[0].arguments, json!({}));
    }

    #[test]
    fn an_unfinished_or_nameless_call_is_not_a_call() {
        assert!(parse("<tool_call>\n{\"name\": \"a\", \"argu").is_none());
        assert!(parse("").is_none());
        assert!(parse("<tool_call>").is_none());
        assert!(parse("{\"arguments\": {}}").is_none());
        assert!(parse("{\"name\": \"a\", \"arguments\": [1]}").is_none());
        assert!(parse("{\"name\": \"a\", \"arguments\": \"[1]\"}").is_none());
    }
}
