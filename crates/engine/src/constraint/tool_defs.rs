//! A tool's `parameters` schema, moved inside the call grammar's schema: its local `$ref`s
//! (`#/$defs/X`, `#/definitions/X`, `#`) were written against the tool's own schema, so
//! they are rewritten to point at its definitions, which move to the root of the grammar's
//! schema under names of that tool's own. Pydantic, MCP servers and agent SDKs write such
//! schemas for any nested model.

use serde_json::{json, Map, Value};

/// Deepest a schema is rewritten; deeper parts are left as they are (the limits refuse
/// them before compiling anyway).
const MAX_REWRITE_DEPTH: usize = 256;

/// `params` of the tool at `index`, ready to sit anywhere inside the grammar's schema. Its
/// definitions (and, when it refers to itself, the schema itself) are added to `defs`.
pub(super) fn hoist(params: &Value, index: usize, defs: &mut Map<String, Value>) -> Value {
    let own = format!("tool{index}");
    let mut body = params.clone();
    let mut refers = false;
    if let Value::Object(map) = &mut body {
        for (key, tag) in [("$defs", ""), ("definitions", "d")] {
            if let Some(Value::Object(local)) = map.remove(key) {
                for (name, mut def) in local {
                    rewrite(&mut def, &own, &mut refers, 0);
                    defs.insert(format!("{own}{tag}_{name}"), def);
                }
            }
        }
    }
    rewrite(&mut body, &own, &mut refers, 0);
    if !refers {
        return body;
    }
    // Something points at the tool's schema itself or into it.
    defs.insert(own.clone(), body);
    json!({ "$ref": format!("#/$defs/{own}") })
}

/// Point every local `$ref` in `v` at the hoisted names; note in `refers` a reference to
/// the tool's own schema (or a path inside it).
fn rewrite(v: &mut Value, own: &str, refers: &mut bool, depth: usize) {
    if depth > MAX_REWRITE_DEPTH {
        return;
    }
    match v {
        Value::Array(items) => {
            for item in items {
                rewrite(item, own, refers, depth + 1);
            }
        }
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(new) = retarget(r, own) {
                    if !new.starts_with(&format!("#/$defs/{own}_"))
                        && !new.starts_with(&format!("#/$defs/{own}d_"))
                    {
                        *refers = true;
                    }
                    *r = new;
                }
            }
            for (key, child) in map.iter_mut() {
                // `const`/`enum` values are data: a `$ref` key there is not a reference.
                if key != "const" && key != "enum" && key != "default" && key != "examples" {
                    rewrite(child, own, refers, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// The new target of a local reference; `None` for a remote one (left alone).
fn retarget(r: &str, own: &str) -> Option<String> {
    let pointer = r.strip_prefix('#')?;
    for (key, tag) in [("/$defs/", ""), ("/definitions/", "d")] {
        if let Some(rest) = pointer.strip_prefix(key) {
            return Some(format!("#/$defs/{own}{tag}_{rest}"));
        }
    }
    Some(format!("#/$defs/{own}{pointer}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_their_definitions_to_the_root() {
        let params = json!({
            "type": "object",
            "properties": {"level": {"$ref": "#/$defs/Level"}, "old": {"$ref": "#/definitions/Old"}},
            "$defs": {"Level": {"enum": ["low", "high"]}},
            "definitions": {"Old": {"$ref": "#/$defs/Level"}},
        });
        let mut defs = Map::new();
        let body = hoist(&params, 2, &mut defs);
        assert_eq!(body["properties"]["level"]["$ref"], "#/$defs/tool2_Level");
        assert_eq!(body["properties"]["old"]["$ref"], "#/$defs/tool2d_Old");
        assert!(body.get("$defs").is_none());
        assert_eq!(defs["tool2_Level"], json!({"enum": ["low", "high"]}));
        assert_eq!(defs["tool2d_Old"]["$ref"], "#/$defs/tool2_Level");
    }

    #[test]
    fn a_schema_that_refers_to_itself_becomes_a_definition() {
        let params = json!({"type": "object", "properties": {
            "child": {"$ref": "#"}, "name": {"$ref": "#/properties/label"}, "label": {"type": "string"}}});
        let mut defs = Map::new();
        let body = hoist(&params, 0, &mut defs);
        assert_eq!(body, json!({"$ref": "#/$defs/tool0"}));
        assert_eq!(
            defs["tool0"]["properties"]["child"]["$ref"],
            "#/$defs/tool0"
        );
        assert_eq!(
            defs["tool0"]["properties"]["name"]["$ref"],
            "#/$defs/tool0/properties/label"
        );
        // Remote references and data are left alone.
        let mut defs = Map::new();
        let p = json!({"properties": {"a": {"$ref": "https://x/s.json"}, "b": {"const": {"$ref": "#"}}}});
        assert_eq!(hoist(&p, 1, &mut defs), p);
        assert!(defs.is_empty());
    }
}
