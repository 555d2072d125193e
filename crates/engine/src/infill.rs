//! Fill-in-the-middle prompts, laid out as llama.cpp's server does: other files first (the
//! repository and file-separator tokens where the model has them), then
//! `<fim_pre> prefix prompt <fim_suf> suffix <fim_mid>`. Code is tokenised as text: special
//! tokens in it are never parsed.

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

/// The tokens of `infill`, or a clear refusal for a model without FIM tokens.
pub(crate) fn tokens(
    vocab: &LlamaVocab<'_>,
    infill: &Infill,
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
    let mut out = Vec::new();
    if !infill.extra.is_empty() {
        let sep = present(vocab.fim_sep());
        if let Some(rep) = present(vocab.fim_rep()) {
            out.push(rep);
            out.extend(text("myproject\n"));
        }
        for (name, body) in &infill.extra {
            match sep {
                Some(sep) => {
                    out.push(sep);
                    out.extend(text(&format!("{name}\n")));
                }
                None => out.extend(text("\n\n--- snippet ---\n\n")),
            }
            out.extend(text(body));
        }
        if let Some(sep) = sep {
            out.push(sep);
            out.extend(text("filename\n"));
        }
    }
    out.push(pre);
    out.extend(text(&infill.prefix));
    out.extend(text(&infill.prompt));
    out.push(suf);
    out.extend(text(&infill.suffix));
    out.push(mid);
    Ok(out)
}
