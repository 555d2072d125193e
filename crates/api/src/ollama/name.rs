//! Ollama's model names are `name:tag`, and its clients append `:latest` to a bare name.
//! The daemon serves one model: Ollama's routes list it as `<id>:latest` (or the id as given,
//! when `--model-id` has a tag) and accept every spelling a client sends for it: the id,
//! the id with any tag, in any case.

/// The name Ollama's routes show for the model `id`.
pub fn tagged(id: &str) -> String {
    if id.contains(':') {
        id.to_owned()
    } else {
        format!("{id}:latest")
    }
}

/// Whether a client's `name` means the model `id`.
pub fn names(name: &str, id: &str) -> bool {
    let bare = |s: &str| s.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let (name, id) = (name.trim(), id.trim());
    name.eq_ignore_ascii_case(id)
        || name.eq_ignore_ascii_case(&tagged(id))
        || (!name.is_empty() && bare(name) == bare(id))
}

#[cfg(test)]
mod tests {
    use super::{names, tagged};

    #[test]
    fn a_bare_id_gets_latest_and_a_tagged_one_is_kept() {
        assert_eq!(tagged("qwen-test"), "qwen-test:latest");
        assert_eq!(tagged("qwen2.5:0.5b"), "qwen2.5:0.5b");
    }

    #[test]
    fn every_spelling_of_the_served_model_is_accepted() {
        for name in [
            "qwen-test",
            "qwen-test:latest",
            "Qwen-Test:LATEST",
            "qwen-test:0.5b",
        ] {
            assert!(names(name, "qwen-test"), "{name}");
        }
        for name in ["qwen2.5", "qwen2.5:latest", "qwen2.5:0.5b"] {
            assert!(names(name, "qwen2.5:0.5b"), "{name}");
        }
        for name in ["llama3", "llama3:70b", "", ":latest", "qwen"] {
            assert!(!names(name, "qwen-test"), "{name}");
        }
    }
}
