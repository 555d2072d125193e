//! The model's own chat template (Jinja, from the GGUF), rendered with minijinja.
//!
//! llama.cpp's built-in `apply_chat_template` matches templates by heuristics and drops
//! details such as Qwen's default system prompt; rendering the real template keeps prompts
//! identical to what the model was trained on.

use edgellm_backend::{BackendError, ChatMessage};
use minijinja::{context, Environment, Error, ErrorKind};

/// Used when a GGUF carries no template: ChatML, which Qwen and many others use.
const CHATML: &str = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// A compiled chat template plus the special tokens it may refer to.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compile `source` (or ChatML when `None`).
    pub fn new(
        source: Option<String>,
        bos_token: String,
        eos_token: String,
    ) -> Result<Self, Error> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned("chat", source.unwrap_or_else(|| CHATML.to_owned()))?;
        Ok(Self {
            env,
            bos_token,
            eos_token,
        })
    }

    /// Render a conversation, ending with the opening of the assistant's turn. `tools`
    /// (OpenAI's function definitions) are passed as the template's `tools`, as Hugging
    /// Face's `apply_chat_template` does; none means the variable is undefined.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        tools: &[serde_json::Value],
    ) -> Result<String, BackendError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| BackendError::Internal(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                tools => (!tools.is_empty()).then_some(tools),
                add_generation_prompt => true,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|e| {
                BackendError::InvalidRequest(format!(
                    "the chat template rejected the messages: {e}"
                ))
            })
    }

    pub fn bos_token(&self) -> &str {
        &self.bos_token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> ChatMessage {
        ChatMessage::new(role, content)
    }

    #[test]
    fn chatml_fallback_renders_generation_prompt() {
        let t = ChatTemplate::new(None, String::new(), String::new()).unwrap();
        let out = t.render(&[msg("user", "hi")], &[]).unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let src = "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}{{ messages[0].content.strip() }}";
        let t = ChatTemplate::new(Some(src.into()), String::new(), String::new()).unwrap();
        assert_eq!(t.render(&[msg("user", "  x ")], &[]).unwrap(), "x");
        let err = t.render(&[msg("system", "x")], &[]).unwrap_err();
        assert!(err.to_string().contains("first must be user"), "{err}");
    }
}
