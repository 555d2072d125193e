//! Limits a schema must keep before it is compiled, and llguidance's own limits, sized for a
//! 1 GB board.
//!
//! llguidance compiles a JSON schema recursively (each `$ref` it meets for the first time
//! is compiled where it is met), so a long `$ref` chain or deep nesting overflows the stack
//! of whichever thread compiles it, and a stack overflow aborts the whole daemon. Its
//! default limits are a desktop's (250k lexer states at 1-2 kB each). So every schema is
//! measured first, without recursion deeper than the limit itself, and refused with a 400
//! that names the limit it broke; llguidance then runs with smaller limits of its own, for
//! what only compiling can tell (a regex whose automaton explodes, an intersection of
//! `allOf` branches).

use std::collections::HashMap;

use edgellm_backend::BackendError;
use llguidance::api::ParserLimits;
use serde_json::Value;

/// Deepest a schema may nest, counting each JSON object or array and following each
/// `$ref` into its target as one level more (what the compiler's recursion follows).
/// Pydantic models nested ten deep stay under 50; llguidance compiles 96 levels in well
/// under 1 MiB of stack (measured by a test below), and compiling runs on threads with more.
pub const MAX_DEPTH: usize = 96;

/// Most JSON values in one schema, or in all the tools of one request together
/// (Open WebUI's 36 built-in tools are about 2,000).
pub const MAX_NODES: usize = 20_000;

/// Most `$defs` / `definitions` entries in one schema.
pub const MAX_DEFS: usize = 512;

/// Longest `pattern` (bytes): a regex is compiled to an automaton, whose size can grow
/// exponentially in the pattern's length.
pub const MAX_PATTERN_BYTES: usize = 512;

/// Largest `minLength`/`maxLength`/`minItems`/`maxItems`/`minProperties`/`maxProperties`
/// bound: counted repetition is unrolled by the compiler.
pub const MAX_COUNT: u64 = 10_000;

/// llguidance's limits: desktop defaults cut to what a 1 GB board can hold (lexer states
/// at 1-2 kB each: 20,000 states stay under 40 MB) and what keeps one mask well under a
/// decode step.
pub(crate) fn parser_limits() -> ParserLimits {
    ParserLimits {
        max_lexer_states: 20_000,
        max_grammar_size: 200_000,
        initial_lexer_fuel: 1_000_000,
        step_lexer_fuel: 200_000,
        step_max_items: 50_000,
        max_items_in_row: 2_000,
        ..ParserLimits::default()
    }
}

/// Check `schema` (standing alone: its `$ref`s resolve against itself) against the limits.
pub fn check(schema: &Value) -> Result<(), BackendError> {
    let mut walk = Walk::new(schema);
    walk.value(schema, 0)?;
    // Definitions nothing refers to are compiled too (as their own roots).
    for (_, def) in defs(schema) {
        walk.value(def, 0)?;
    }
    Ok(())
}

/// A refusal naming the limit.
fn refuse(what: String) -> BackendError {
    BackendError::InvalidRequest(format!("the schema cannot be used: {what}"))
}

/// The local definitions of `schema` (`$defs` and the older `definitions`).
fn defs(schema: &Value) -> impl Iterator<Item = (&String, &Value)> {
    ["$defs", "definitions"]
        .into_iter()
        .filter_map(|key| schema.get(key).and_then(Value::as_object))
        .flatten()
}

/// Where a `$ref` points: the root, or one local definition (by its JSON pointer).
fn local_target<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

struct Walk<'a> {
    root: &'a Value,
    nodes: usize,
    /// For each reference followed: the depth below its target, once known; `None` while
    /// the target is being walked (a cycle back to it adds nothing: the compiler reuses the
    /// rule it is building).
    below: HashMap<&'a str, Option<usize>>,
}

impl<'a> Walk<'a> {
    fn new(root: &'a Value) -> Self {
        Self {
            root,
            nodes: 0,
            below: HashMap::new(),
        }
    }

    /// Walk `v` found at `depth`; returns the deepest level reached below it (relative).
    /// Recursion never goes deeper than [`MAX_DEPTH`] (plus one frame to refuse).
    fn value(&mut self, v: &'a Value, depth: usize) -> Result<usize, BackendError> {
        if depth > MAX_DEPTH {
            return Err(refuse(format!(
                "it nests deeper than {MAX_DEPTH} levels (counting each $ref as a level)"
            )));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(refuse(format!("it has more than {MAX_NODES} JSON values")));
        }
        let mut below = 0;
        match v {
            Value::Array(items) => {
                for item in items {
                    below = below.max(1 + self.value(item, depth + 1)?);
                }
            }
            Value::Object(map) => {
                for key in ["$defs", "definitions"] {
                    if let Some(n) = map.get(key).and_then(Value::as_object).map(|m| m.len()) {
                        if n > MAX_DEFS {
                            return Err(refuse(format!(
                                "'{key}' has {n} entries, more than {MAX_DEFS}"
                            )));
                        }
                    }
                }
                if let Some(p) = map.get("pattern").and_then(Value::as_str) {
                    if p.len() > MAX_PATTERN_BYTES {
                        return Err(refuse(format!(
                            "a 'pattern' is {} bytes long, more than {MAX_PATTERN_BYTES}",
                            p.len()
                        )));
                    }
                }
                for key in [
                    "minLength",
                    "maxLength",
                    "minItems",
                    "maxItems",
                    "minProperties",
                    "maxProperties",
                ] {
                    if let Some(n) = map.get(key).and_then(Value::as_f64) {
                        if n > MAX_COUNT as f64 {
                            return Err(refuse(format!("'{key}' is {n}, more than {MAX_COUNT}")));
                        }
                    }
                }
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    below = below.max(self.reference(r, depth)?);
                }
                for (key, child) in map {
                    // Definitions are walked where they are referred to (and once on their own).
                    if depth == 0 && (key == "$defs" || key == "definitions") {
                        continue;
                    }
                    // `const`, `enum`, `default` and `examples` hold data, not schemas, but
                    // they are compiled to literals all the same: count them.
                    below = below.max(1 + self.value(child, depth + 1)?);
                }
            }
            _ => {}
        }
        Ok(below)
    }

    fn reference(&mut self, r: &'a str, depth: usize) -> Result<usize, BackendError> {
        match self.below.get(r) {
            Some(Some(known)) => {
                let reached = depth + 1 + known;
                if reached > MAX_DEPTH {
                    return Err(refuse(format!(
                        "it nests deeper than {MAX_DEPTH} levels (counting each $ref as a level)"
                    )));
                }
                Ok(1 + known)
            }
            // A cycle: the rule being compiled is reused.
            Some(None) => Ok(0),
            None => {
                // Remote references are not fetched; llguidance refuses them itself.
                let Some(target) = local_target(self.root, r) else {
                    return Ok(0);
                };
                self.below.insert(r, None);
                let known = self.value(target, depth + 1)?;
                self.below.insert(r, Some(known));
                Ok(1 + known)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A schema whose `$defs` form a chain of `n` references.
    pub(crate) fn ref_chain(n: usize) -> Value {
        let mut defs = serde_json::Map::new();
        for i in 0..n {
            let next = if i + 1 < n {
                json!({"type": "object", "properties": {"next": {"$ref": format!("#/$defs/D{}", i + 1)}}})
            } else {
                json!({"type": "integer"})
            };
            defs.insert(format!("D{i}"), next);
        }
        json!({"$ref": "#/$defs/D0", "$defs": defs})
    }

    #[test]
    fn ordinary_schemas_pass() {
        check(&json!({"type": "object", "properties": {"a": {"type": "string", "maxLength": 40}}}))
            .unwrap();
        check(&ref_chain(5)).unwrap();
        // A recursive schema (a tree) is fine: the compiler reuses the rule.
        let tree = json!({"$defs": {"Node": {"type": "object", "properties": {
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
            "$ref": "#/$defs/Node"});
        check(&tree).unwrap();
        check(&json!({"properties": {"self": {"$ref": "#"}}})).unwrap();
    }

    #[test]
    fn long_ref_chains_are_refused_without_deep_recursion() {
        // 20,000 links: the request that overflowed the compiler's stack. The check itself
        // runs on this test thread's small stack.
        let err = check(&ref_chain(20_000)).unwrap_err().to_string();
        assert!(err.contains("'$defs' has 20000 entries"), "{err}");
        // Under the count of definitions, the chain is still too deep.
        let err = check(&ref_chain(200)).unwrap_err().to_string();
        assert!(err.contains(&format!("deeper than {MAX_DEPTH}")), "{err}");
    }

    /// `n` definitions, each referring to the next twice: 2^n paths.
    fn diamond(n: usize) -> Value {
        let mut defs = serde_json::Map::new();
        for i in 0..n {
            let next = format!("#/$defs/D{}", i + 1);
            defs.insert(
                format!("D{i}"),
                json!({"anyOf": [{"$ref": next}, {"$ref": next}]}),
            );
        }
        defs.insert(format!("D{n}"), json!({"type": "null"}));
        json!({"$ref": "#/$defs/D0", "$defs": defs})
    }

    #[test]
    fn a_diamond_of_references_is_walked_once_per_definition() {
        // 40 links of depth 3 each (object, anyOf array, member) exceed the limit...
        assert!(check(&diamond(40)).is_err());
        // ... and 12 do not, quickly (2^12 paths, 13 definitions walked).
        check(&diamond(12)).unwrap();
    }

    #[test]
    fn size_defs_patterns_and_counts_are_bounded() {
        let big_enum: Vec<Value> = (0..MAX_NODES).map(|i| json!(i)).collect();
        let err = check(&json!({"enum": big_enum})).unwrap_err().to_string();
        assert!(err.contains("JSON values"), "{err}");
        let mut defs = serde_json::Map::new();
        for i in 0..=MAX_DEFS {
            defs.insert(format!("D{i}"), json!({"type": "null"}));
        }
        let err = check(&json!({"$defs": defs})).unwrap_err().to_string();
        assert!(err.contains("'$defs' has 513 entries"), "{err}");
        let err = check(&json!({"type": "string", "pattern": "a".repeat(600)}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'pattern'"), "{err}");
        let err = check(&json!({"type": "string", "maxLength": 1_000_000}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'maxLength'"), "{err}");
    }

    #[test]
    fn nesting_without_references_is_bounded_too() {
        let mut s = json!({"type": "integer"});
        for _ in 0..60 {
            s = json!({"type": "object", "properties": {"a": s}});
        }
        assert!(check(&s).is_err());
    }
}
