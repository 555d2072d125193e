//! `edgellm pull` flags and the pinned default model.

use super::*;

/// The model `edgellm pull` installs when no URL is given: Qwen2.5-0.5B-Instruct Q4_K_M from
/// Qwen's own Hugging Face repository, pinned to a revision, with that file's sha256.
pub mod default_model {
    pub const DESCRIPTION: &str = "Qwen2.5-0.5B-Instruct Q4_K_M";
    pub const URL: &str = "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/\
                           9217f5db79a29953eb74d5343926648285ec7e67/qwen2.5-0.5b-instruct-q4_k_m.gguf";
    pub const SHA256: &str = "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db";
    pub const SIZE: u64 = 491_400_032;
    /// The file the daemon loads by default (`<models-dir>/model.gguf`).
    pub const NAME: &str = "model.gguf";
}

/// Flags of `edgellm pull`.
#[derive(Debug, Args)]
#[command(after_help = "Without a URL, installs Qwen2.5-0.5B-Instruct Q4_K_M \
                  (Qwen/Qwen2.5-0.5B-Instruct-GGUF on Hugging Face, revision 9217f5db, sha256 \
                  74a4da8c...) as <models-dir>/model.gguf, the file `edgellm serve` loads by \
                  default.")]
pub struct PullArgs {
    /// Where to download from (https://, or http:// for a local mirror) [default: the pinned
    /// Qwen2.5-0.5B-Instruct Q4_K_M, see below].
    pub url: Option<String>,
    /// Expected sha256 of the file (64 hex digits); nothing is installed unless it matches.
    /// Required with a URL.
    #[arg(long)]
    pub sha256: Option<String>,
    /// File name in the models directory [default: the URL's last path segment, or
    /// model.gguf for the default model].
    #[arg(long)]
    pub name: Option<String>,
    /// Models directory [default: <state-dir>/models].
    #[arg(long, env = "EDGELLM_MODELS_DIR", value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Largest download accepted when the server sends no Content-Length and the size is
    /// not known in advance, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 20 * (1 << 30))]
    pub max_bytes: u64,
    #[command(flatten)]
    pub state_dir: StateDirArg,
}

/// Validated `edgellm pull` settings.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub url: String,
    pub sha256: String,
    pub name: String,
    /// Size the file must have, when known in advance (the default model).
    pub size: Option<u64>,
    /// Bound on the download when neither `size` nor a Content-Length is known.
    pub max_bytes: u64,
    pub models_dir: PathBuf,
}

impl PullArgs {
    pub fn resolve(self) -> Result<PullOptions, Error> {
        let (url, sha256, default_name, size) = match (self.url, self.sha256) {
            (None, None) => (
                default_model::URL.to_owned(),
                default_model::SHA256.to_owned(),
                default_model::NAME.to_owned(),
                Some(default_model::SIZE),
            ),
            (None, Some(_)) => {
                return Err(Error::config(
                    "sha256",
                    "is for a URL of your own; without a URL the default model's hash is used",
                ))
            }
            (Some(_), None) => {
                return Err(Error::config(
                    "sha256",
                    "is required with a URL (64 hexadecimal digits of the file's sha256)",
                ))
            }
            (Some(url), Some(sha256)) => {
                let name = url
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.split(['?', '#']).next())
                    .filter(|n| !n.is_empty())
                    .unwrap_or("model.gguf")
                    .to_owned();
                (url, sha256, name, None)
            }
        };
        let sha256 = sha256.trim().to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::config("sha256", "must be 64 hexadecimal digits"));
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::config(
                "url",
                format!("'{url}' is not an http(s) URL"),
            ));
        }
        let name = self.name.unwrap_or(default_name);
        if name.contains('/') || name.starts_with('.') || name.is_empty() {
            return Err(Error::config(
                "name",
                format!("'{name}' is not a plain file name"),
            ));
        }
        let models_dir = match self.models_dir {
            Some(dir) => dir,
            None => self.state_dir.resolve()?.join("models"),
        };
        Ok(PullOptions {
            url,
            sha256,
            name,
            size,
            max_bytes: self.max_bytes,
            models_dir,
        })
    }
}
