//! What a client asks the engine for.

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// The input to generate from.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Rendered with the model's own chat template, ending with the assistant's turn.
    Chat(Vec<ChatMessage>),
    /// Tokenised as given.
    Text(String),
}

/// Sampling and stopping settings for one request. `Default` is what llama.cpp's server uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f32,
    pub top_p: f32,
    /// 0 disables top-k.
    pub top_k: u32,
    pub min_p: f32,
    /// `None` picks a random seed.
    pub seed: Option<u32>,
    /// 1.0 disables.
    pub repeat_penalty: f32,
    pub presence_penalty: f32,
    pub frequency_penalty: f32,
    /// How many recent tokens the penalties look at.
    pub penalty_last_n: u32,
    /// Upper bound of generated tokens; `None` means until the context is full.
    pub max_tokens: Option<u32>,
    /// Generation ends before any of these strings; they are not returned.
    pub stop: Vec<String>,
    /// Constrain the output to a JSON object.
    pub json: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_p: 0.95,
            top_k: 40,
            min_p: 0.05,
            seed: None,
            repeat_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            penalty_last_n: 64,
            max_tokens: None,
            stop: Vec::new(),
            json: false,
        }
    }
}

/// A request to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    pub params: SamplingParams,
}
