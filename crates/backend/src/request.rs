//! What a client asks the engine for.

/// One message of a chat, in the shape chat templates read.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
    /// Calls an assistant made: `[{"type": "function", "id": .., "function": {"name": ..,
    /// "arguments": {..}}}]`, arguments as an object (templates print them with `tojson`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<serde_json::Value>>,
    /// For `role: "tool"`: the call this message answers, and the function's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    /// A plain message.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
            ..Self::default()
        }
    }
}

/// Functions the model may call, and whether it must.
#[derive(Debug, Clone, PartialEq)]
pub struct Tools {
    /// OpenAI's form: `{"type": "function", "function": {"name", "description", "parameters"}}`,
    /// names checked unique and `parameters` a JSON schema object.
    pub definitions: Vec<serde_json::Value>,
    pub choice: ToolChoice,
    /// More than one call in one answer.
    pub parallel: bool,
}

/// OpenAI's `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides; a call, once it starts, is constrained to the tools' schemas.
    Auto,
    /// No call: tools are not shown to the model.
    None,
    /// A call from the first token.
    Required,
    /// A call of this function from the first token.
    Function(String),
}

impl Tools {
    /// Name of each definition, in order.
    pub fn names(&self) -> Vec<String> {
        self.definitions
            .iter()
            .filter_map(|d| d["function"]["name"].as_str().map(str::to_owned))
            .collect()
    }
}

/// The input to generate from.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Rendered with the model's own chat template, ending with the assistant's turn.
    Chat(Vec<ChatMessage>),
    /// Tokenised as given.
    Text(String),
    /// Fill in the middle: the model writes what goes between `prefix` and `suffix`, with
    /// its own FIM tokens (a model without them refuses the request).
    Infill(Infill),
}

/// A fill-in-the-middle request, as code editors send it (llama-server's `/infill`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Infill {
    /// The code before the cursor.
    pub prefix: String,
    /// The code after the cursor.
    pub suffix: String,
    /// Text right at the cursor, continued after the prefix.
    pub prompt: String,
    /// Other files for context: (file name, text).
    pub extra: Vec<(String, String)>,
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
    /// Constrain the output to JSON matching this schema (`{"type": "object"}` for JSON mode).
    pub format: Option<serde_json::Value>,
    /// Report each token's log probability with this many alternatives (at most
    /// [`MAX_TOP_LOGPROBS`]); `None` computes none (and costs nothing).
    pub logprobs: Option<u8>,
}

/// Most alternatives `logprobs` may ask for per token (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u8 = 20;

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
            format: None,
            logprobs: None,
        }
    }
}

/// A request to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    pub params: SamplingParams,
    /// Only with [`Prompt::Chat`].
    pub tools: Option<Tools>,
}

impl GenerateRequest {
    /// A request without tools.
    pub fn new(prompt: Prompt, params: SamplingParams) -> Self {
        Self {
            prompt,
            params,
            tools: None,
        }
    }
}
