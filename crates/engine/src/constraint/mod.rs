//! Constrained decoding: JSON schemas and tool calls, enforced with llguidance.
//!
//! Why llguidance and not llama.cpp's GBNF grammar sampler: llguidance takes JSON Schema
//! as it comes (`$ref`, `anyOf`, `enum`, `const`, formats, lengths: what Pydantic and
//! Home Assistant send) instead of a schema-to-GBNF converter we would have to write and
//! keep correct; it computes each token mask over a token trie, which stays fast on
//! Qwen's 152k-token vocabulary; and it runs in Rust, so a token it does not expect is an
//! error value, never the C++ exception that aborts the process in the GBNF sampler.
//! Building the tokenizer trie takes a moment, so it happens once per model, on first use.

use std::sync::Arc;

use edgellm_backend::{BackendError, Tools};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use serde_json::{json, Value};

pub mod limits;
mod tool_defs;

/// JSON as Qwen writes it (`{"a": 1, "b": [1, 2]}`), with no room for runs of whitespace
/// that a small model can fall into and never leave: for schemas, whose keys the grammar
/// leads the model to, and for tool calls, which the model was trained to write this way.
fn compact() -> Value {
    json!({ "whitespace_flexible": false, "item_separator": ", ", "key_separator": ": " })
}

/// JSON mode (a schema that only asks for an object: OpenAI's `json_object`, Ollama's
/// `format: "json"`): here nothing leads the model to a key, and what it likes after `{` is
/// a newline and an indent, which compact JSON forbids, so the allowed token it likes best
/// is `}`, and the answer is `{}`. So JSON mode asks for a non-empty object: after `{` the
/// model must open a key, and it writes one. Measured on `tests/json_mode.rs`'s 16 prompts
/// (facts asked for, with and without the word JSON), greedy: compact and non-empty 15
/// answers carried the fact; compact allowing `{}` 13 (3 were `{}`); bounded natural
/// whitespace as in llama.cpp's JSON grammar 11 (no `{}`, but a pretty-printed start led the
/// model to other answers). An empty object is valid JSON but answers nothing.
fn json_mode_schema() -> Value {
    json!({ "type": "object", "minProperties": 1 })
}

/// Whether `schema` leaves the whole content of an object open (JSON mode).
fn is_json_mode(schema: &Value) -> bool {
    schema.as_object().is_some_and(|o| o.len() == 1) && schema["type"] == "object"
}

/// Compiles schemas and call grammars for one model. Cheap to clone (one shared factory).
#[derive(Clone)]
pub(crate) struct Constraints {
    factory: Arc<ParserFactory>,
}

impl std::fmt::Debug for Constraints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Constraints")
    }
}

impl Constraints {
    pub(crate) fn new(model: &LlamaModel) -> Result<Self, String> {
        Self::from_env(&LlamaSampler::llguidance_tok_env(model))
    }

    fn from_env(env: &toktrie::TokEnv) -> Result<Self, String> {
        let mut factory = ParserFactory::new_simple(env).map_err(|e| e.to_string())?;
        factory.quiet();
        *factory.limits_mut() = limits::parser_limits();
        Ok(Self {
            factory: Arc::new(factory),
        })
    }

    /// A sampler that allows only JSON valid under `schema`.
    pub(crate) fn json(&self, schema: &Value) -> Result<LlamaSampler, BackendError> {
        Ok(LlamaSampler::from(self.json_matcher(schema)?))
    }

    fn json_matcher(&self, schema: &Value) -> Result<Matcher, BackendError> {
        limits::check(schema)?;
        self.matcher(TopLevelGrammar::from_json_schema(with_options(schema)?))
    }

    /// A sampler that allows `prefix` and then tool calls in either form the model uses:
    /// `<tool_call>\n{"name": .., "arguments": {..}}\n</tool_call>` (several, newline
    /// separated, when parallel calls are allowed) or one bare `{"name": .., "arguments": ..}`.
    pub(crate) fn calls(
        &self,
        tools: &Tools,
        only: Option<&str>,
        prefix: &str,
    ) -> Result<LlamaSampler, BackendError> {
        Ok(LlamaSampler::from(self.calls_matcher(tools, only, prefix)?))
    }

    /// [`Constraints::calls`] compiled on a thread of its own (with
    /// [`crate::PREP_STACK_BYTES`] of stack), so the engine thread never waits for it: the
    /// result arrives on the returned channel.
    pub(crate) fn calls_in_background(
        &self,
        tools: Tools,
        prefix: String,
    ) -> std::sync::mpsc::Receiver<Result<LlamaSampler, String>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("edgellm-grammar".into())
            .stack_size(crate::PREP_STACK_BYTES)
            .spawn(move || {
                let _ = tx.send(this.calls(&tools, None, &prefix).map_err(|e| e.to_string()));
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread for a tool-call grammar");
        }
        rx
    }

    fn calls_matcher(
        &self,
        tools: &Tools,
        only: Option<&str>,
        prefix: &str,
    ) -> Result<Matcher, BackendError> {
        self.matcher(TopLevelGrammar::from_lark(calls_lark(tools, only, prefix)?))
    }

    fn matcher(&self, grammar: TopLevelGrammar) -> Result<Matcher, BackendError> {
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| BackendError::InvalidRequest(format!("the schema cannot be used: {e}")))?;
        let mut matcher = Matcher::new(Ok(parser));
        // A grammar that allows nothing at all would leave the model only end-of-text.
        if let Err(e) = matcher.compute_mask() {
            return Err(BackendError::InvalidRequest(format!(
                "the schema cannot be used: {e}"
            )));
        }
        Ok(matcher)
    }
}

/// `schema` with our JSON formatting options; it must be a JSON object (or `true`).
fn with_options(schema: &Value) -> Result<Value, BackendError> {
    let mut schema = match schema {
        Value::Object(_) => schema.clone(),
        Value::Bool(true) => json!({}),
        other => {
            return Err(BackendError::InvalidRequest(format!(
                "a JSON schema must be an object, got {other}"
            )))
        }
    };
    if is_json_mode(&schema) {
        schema = json_mode_schema();
    }
    schema["x-guidance"] = compact();
    Ok(schema)
}

/// The Lark grammar of a tool-call answer.
fn calls_lark(tools: &Tools, only: Option<&str>, prefix: &str) -> Result<String, BackendError> {
    let mut choices = Vec::new();
    let mut defs = serde_json::Map::new();
    for (i, def) in tools.definitions.iter().enumerate() {
        let function = &def["function"];
        let Some(name) = function["name"].as_str() else {
            continue;
        };
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let arguments = match &function["parameters"] {
            Value::Null => json!({ "type": "object" }),
            Value::Object(p) if p.is_empty() => json!({ "type": "object" }),
            // Its `$ref`s point into itself: its definitions move to the grammar's root.
            p => tool_defs::hoist(p, i, &mut defs),
        };
        choices.push(json!({
            "type": "object",
            "properties": { "name": { "const": name }, "arguments": arguments },
            "required": ["name", "arguments"],
            "additionalProperties": false,
        }));
    }
    if choices.is_empty() {
        return Err(BackendError::InvalidRequest(
            "no tool matches 'tool_choice'".into(),
        ));
    }
    let mut call = if choices.len() == 1 {
        choices.remove(0)
    } else {
        json!({ "anyOf": choices })
    };
    if !defs.is_empty() {
        call["$defs"] = Value::Object(defs);
    }
    limits::check(&call)?;
    call["x-guidance"] = compact();
    let more = if tools.parallel {
        r#" ("\n" tagged)*"#
    } else {
        ""
    };
    let lead = if prefix.is_empty() {
        String::new()
    } else {
        format!("{} ", quote(prefix))
    };
    Ok(format!(
        "start: {lead}(tagged{more} | call)\n\
         tagged: \"<tool_call>\\n\" call \"\\n</tool_call>\"\n\
         call: %json {call}\n"
    ))
}

/// A Lark string literal of `text`.
fn quote(text: &str) -> String {
    // Lark's string literals take JSON's escapes.
    Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgellm_backend::ToolChoice;

    fn tools(parallel: bool) -> Tools {
        Tools {
            definitions: vec![
                json!({"type": "function", "function": {"name": "get_weather", "parameters": {
                    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}),
                json!({"type": "function", "function": {"name": "ping"}}),
            ],
            choice: ToolChoice::Auto,
            parallel,
        }
    }

    /// Whether `m` accepts `text` as a complete output (byte-level tokens).
    fn accepts(mut m: Matcher, text: &str) -> bool {
        let tokens: Vec<u32> = text.bytes().map(u32::from).collect();
        m.consume_tokens(&tokens).is_ok() && m.is_accepting().unwrap_or(false)
    }

    fn bytes() -> Constraints {
        Constraints::from_env(&toktrie::ApproximateTokEnv::single_byte_env()).unwrap()
    }

    #[test]
    fn calls_are_accepted_in_both_forms_and_must_fit_the_schema() {
        let c = bytes();
        let m = || c.calls_matcher(&tools(false), None, "").unwrap();
        let tagged = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        assert!(accepts(m(), tagged));
        assert!(accepts(m(), r#"{"name": "ping", "arguments": {}}"#));
        // Wrong argument type, unknown tool, missing required argument.
        assert!(!accepts(
            m(),
            r#"{"name": "get_weather", "arguments": {"city": 3}}"#
        ));
        assert!(!accepts(m(), r#"{"name": "nope", "arguments": {}}"#));
        assert!(!accepts(m(), r#"{"name": "get_weather", "arguments": {}}"#));
        // Two calls only when parallel calls are allowed.
        let two = format!("{tagged}\n{tagged}");
        assert!(!accepts(m(), &two));
        assert!(accepts(
            c.calls_matcher(&tools(true), None, "").unwrap(),
            &two
        ));
        // The prefix comes first; a named choice allows that tool only.
        let with_prefix = c.calls_matcher(&tools(false), None, " \"x\"\n").unwrap();
        assert!(accepts(with_prefix, &format!(" \"x\"\n{tagged}")));
        let only = c.calls_matcher(&tools(false), Some("ping"), "").unwrap();
        assert!(!accepts(only, tagged));
        assert!(c.calls_matcher(&tools(false), Some("nope"), "").is_err());
    }

    #[test]
    fn json_schemas_are_enforced() {
        let c = bytes();
        let schema =
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        assert!(accepts(c.json_matcher(&schema).unwrap(), r#"{"n": 3}"#));
        assert!(!accepts(c.json_matcher(&schema).unwrap(), r#"{"n": "3"}"#));
        assert!(!accepts(c.json_matcher(&schema).unwrap(), r#"{}"#));
        let any = json!({"type": "object"});
        assert!(accepts(c.json_matcher(&any).unwrap(), r#"{"a": [1, 2]}"#));
        // A schema's keys lead the model: compact, no newline.
        assert!(!accepts(
            c.json_matcher(&schema).unwrap(),
            "{\n  \"n\": 3\n}"
        ));
    }

    #[test]
    fn json_mode_asks_for_a_non_empty_compact_object() {
        let c = bytes();
        let any = || c.json_matcher(&json!({"type": "object"})).unwrap();
        assert!(accepts(any(), r#"{"name": "Ada", "born": [1815, 12]}"#));
        assert!(accepts(any(), r#"{"a": {"b": true}}"#));
        assert!(!accepts(any(), "{}"), "an empty object answers nothing");
        assert!(!accepts(any(), "{\n  \"a\": 1\n}"));
        // Still JSON, still an object.
        assert!(!accepts(any(), "[1]"));
        assert!(!accepts(any(), "{\"a\": 1,}"));
    }

    #[test]
    fn json_mode_is_only_the_open_object() {
        assert!(is_json_mode(&json!({"type": "object"})));
        assert!(!is_json_mode(&json!({"type": "object", "properties": {}})));
        assert!(!is_json_mode(&json!({"type": "array"})));
        assert!(!is_json_mode(&json!({})));
    }

    #[test]
    fn json_schemas_refuse_unknown_types() {
        let c = bytes();
        assert!(c.json_matcher(&json!({"type": "no-such-type"})).is_err());
    }

    #[test]
    fn tool_parameters_may_refer_to_their_own_definitions() {
        let c = bytes();
        let tools = Tools {
            definitions: vec![
                json!({"type": "function", "function": {"name": "set", "parameters": {
                    "type": "object", "properties": {"level": {"$ref": "#/$defs/Level"}},
                    "required": ["level"], "$defs": {"Level": {"enum": ["low", "high"]}}}}}),
                json!({"type": "function", "function": {"name": "other", "parameters": {
                    "type": "object", "properties": {"level": {"$ref": "#/$defs/Level"}},
                    "required": ["level"], "$defs": {"Level": {"type": "integer"}}}}}),
            ],
            choice: ToolChoice::Auto,
            parallel: false,
        };
        let m = || c.calls_matcher(&tools, None, "").unwrap();
        // Each tool's `Level` is its own.
        assert!(accepts(
            m(),
            r#"{"name": "set", "arguments": {"level": "low"}}"#
        ));
        assert!(!accepts(
            m(),
            r#"{"name": "set", "arguments": {"level": 3}}"#
        ));
        assert!(accepts(
            m(),
            r#"{"name": "other", "arguments": {"level": 3}}"#
        ));
        assert!(!accepts(
            m(),
            r#"{"name": "other", "arguments": {"level": "low"}}"#
        ));
    }

    #[test]
    fn schemas_over_the_limits_are_refused_before_compiling() {
        let c = bytes();
        let err = c
            .json_matcher(&limits::tests::ref_chain(20_000))
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("cannot be used"), "{err}");
        let err = c
            .json_matcher(&limits::tests::ref_chain(300))
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("deeper than"), "{err}");
        // An automaton that explodes (2^18 states) hits the lexer-state limit instead of
        // taking hundreds of MB.
        let s = json!({"type": "string", "pattern": "^(a|b)*a(a|b){18}$"});
        let mut m = c.json_matcher(&s).unwrap();
        let mut x: u32 = 12345;
        let mut fed = 0;
        let mut failed = None;
        m.consume_tokens(&[u32::from(b'"')]).unwrap();
        for _ in 0..200_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let byte = if (x >> 16) & 1 == 0 { b'a' } else { b'b' };
            if let Err(e) = m
                .consume_tokens(&[u32::from(byte)])
                .and_then(|_| m.compute_mask().map(|_| ()))
            {
                failed = Some(e.to_string());
                break;
            }
            fed += 1;
        }
        eprintln!("fed {fed} bytes, failed: {failed:?}");
        assert!(failed.is_some());
    }

    /// The deepest schema the limits let through compiles on a thread with 1 MiB of stack
    /// (compiling runs on threads with [`crate::PREP_STACK_BYTES`]).
    #[test]
    fn the_deepest_allowed_schema_compiles_on_a_small_stack() {
        // Three levels per link (the reference, the object, its properties).
        let schema = limits::tests::ref_chain(limits::MAX_DEPTH / 3 - 1);
        limits::check(&schema).unwrap();
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                bytes().json_matcher(&schema).unwrap();
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn schemas_must_be_objects() {
        assert!(with_options(&json!([1])).is_err());
        assert!(with_options(&json!("x")).is_err());
        let s = with_options(&json!({"type": "object"})).unwrap();
        assert_eq!(s["x-guidance"]["whitespace_flexible"], false);
        assert_eq!(
            s["minProperties"], 1,
            "JSON mode asks for a non-empty object"
        );
        let s = with_options(&json!({"type": "object", "required": ["a"]})).unwrap();
        assert_eq!(s["x-guidance"]["item_separator"], ", ");
    }
}
