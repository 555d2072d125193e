//! Fill-in-the-middle prompts, laid out as llama.cpp's server does: other files first (the
//! repository and file-separator tokens where the model has them), then
//! `<fim_pre> prefix prompt <fim_suf> suffix <fim_mid>`. Code is tokenised as text: special
//! tokens in it are never parsed. Editors send more context than fits: what does not fit
//! in three quarters of the context (the rest is room for the answer) is cut as
//! llama-server cuts it: the other files first, then the prefix's start and the suffix's
//! end, the code nearest the cursor kept.

use edgellm_backend::{BackendError, Infill};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::vocab::LlamaVocab;

/// The three FIM tokens' text (prefix, suffix, middle), if the model has them all.
pub(crate) fn token_texts(vocab: &LlamaVocab<'_>) -> Option<[String; 3]> {
    let text = |t: LlamaToken| {
        (t.0 >= 0)
            .then(|| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned())
    };
    Some([
        text(vocab.fim_pre())?,
        text(vocab.fim_suf())?,
        text(vocab.fim_mid())?,
    ])
}

/// The tokens of `infill` cut to fit `limit` (the context one request may use), or a clear
/// refusal for a model without FIM tokens.
pub(crate) fn tokens(
    vocab: &LlamaVocab<'_>,
    infill: &Infill,
    limit: usize,
) -> Result<Vec<LlamaToken>, BackendError> {
    let present = |t: LlamaToken| (t.0 >= 0).then_some(t);
    let (Some(pre), Some(suf), Some(mid)) = (
        present(vocab.fim_pre()),
        present(vocab.fim_suf()),
        present(vocab.fim_mid()),
    ) else {
        return Err(BackendError::InvalidRequest(
            "this model has no fill-in-the-middle tokens, so it cannot complete code between a prefix and a suffix; load a code model such as Qwen2.5-Coder".into(),
        ));
    };
    let text = |s: &str| vocab.tokenize(s.as_bytes(), false, false);
    let mut extra = Vec::new();
    if !infill.extra.is_empty() {
        let sep = present(vocab.fim_sep());
        if let Some(rep) = present(vocab.fim_rep()) {
            extra.push(rep);
            extra.extend(text("myproject\n"));
        }
        for (name, body) in &infill.extra {
            match sep {
                Some(sep) => {
                    extra.push(sep);
                    extra.extend(text(&format!("{name}\n")));
                }
                None => extra.extend(text("\n\n--- snippet ---\n\n")),
            }
            extra.extend(text(body));
        }
        if let Some(sep) = sep {
            extra.push(sep);
            extra.extend(text("filename\n"));
        }
    }
    let mut prefix = text(&infill.prefix);
    let prompt = text(&infill.prompt);
    let mut suffix = text(&infill.suffix);
    // The BOS a model may add, the three FIM tokens and the text at the cursor are kept.
    let fixed = 4 + prompt.len();
    fit(
        &mut extra,
        &mut prefix,
        &mut suffix,
        fixed,
        limit - limit / 4,
    );
    let mut out = extra;
    out.push(pre);
    out.extend(prefix);
    out.extend(prompt);
    out.push(suf);
    out.extend(suffix);
    out.push(mid);
    Ok(out)
}

/// Cut `extra`, then the start of `prefix` and the end of `suffix` (the prefix keeping up to
/// three quarters of the room), until they and `fixed` tokens fit in `budget`. When even
/// `fixed` does not fit, nothing is cut: the request is refused as too long.
fn fit<T>(
    extra: &mut Vec<T>,
    prefix: &mut Vec<T>,
    suffix: &mut Vec<T>,
    fixed: usize,
    budget: usize,
) {
    if fixed + extra.len() + prefix.len() + suffix.len() <= budget || fixed >= budget {
        return;
    }
    if fixed + prefix.len() + suffix.len() <= budget {
        extra.truncate(budget - fixed - prefix.len() - suffix.len());
        return;
    }
    extra.clear();
    let room = budget - fixed;
    let keep_suffix = suffix.len().min(room - prefix.len().min(room * 3 / 4));
    let keep_prefix = prefix.len().min(room - keep_suffix);
    tracing::debug!(
        prefix = prefix.len(),
        suffix = suffix.len(),
        keep_prefix,
        keep_suffix,
        "fill-in-the-middle context cut to fit"
    );
    prefix.drain(..prefix.len() - keep_prefix);
    suffix.truncate(keep_suffix);
}

#[cfg(test)]
mod tests {
    use super::fit;

    fn run(
        extra: usize,
        prefix: usize,
        suffix: usize,
        fixed: usize,
        budget: usize,
    ) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let mut e: Vec<u32> = (0..extra as u32).collect();
        let mut p: Vec<u32> = (0..prefix as u32).collect();
        let mut s: Vec<u32> = (0..suffix as u32).collect();
        fit(&mut e, &mut p, &mut s, fixed, budget);
        (e, p, s)
    }

    #[test]
    fn what_fits_is_kept_whole() {
        let (e, p, s) = run(10, 20, 30, 4, 100);
        assert_eq!((e.len(), p.len(), s.len()), (10, 20, 30));
    }

    #[test]
    fn other_files_go_first_then_the_far_ends_of_the_code() {
        let (e, p, s) = run(50, 20, 30, 4, 80);
        assert_eq!((e.len(), p.len(), s.len()), (26, 20, 30));
        let (e, p, s) = run(50, 1000, 1000, 4, 104);
        assert!(e.is_empty());
        assert_eq!((p.len(), s.len()), (75, 25));
        // The prefix keeps its end (nearest the cursor), the suffix its start.
        assert_eq!(p.last(), Some(&999));
        assert_eq!(s.first(), Some(&0));
        // A short prefix leaves its room to the suffix.
        let (_, p, s) = run(0, 10, 1000, 4, 104);
        assert_eq!((p.len(), s.len()), (10, 90));
    }

    #[test]
    fn nothing_is_cut_when_even_the_fixed_part_does_not_fit() {
        let (e, p, s) = run(5, 5, 5, 200, 100);
        assert_eq!((e.len(), p.len(), s.len()), (5, 5, 5));
    }
}
