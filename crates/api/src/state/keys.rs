//! The API keys a request must present (`--api-key`, `--api-key-file`), kept as digests and
//! compared in constant time. The check itself is the `guard::keys` layer.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The accepted keys. Empty means the API is open.
#[derive(Default, Clone)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Keys from a file (one per line; blank lines and `#` comments ignored) and a list.
    pub fn load(file: Option<&Path>, extra: &[String]) -> Result<Self, String> {
        let mut keys: Vec<String> = extra
            .iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read API key file {}: {e}", path.display()))?;
            keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
            if keys.is_empty() {
                return Err(format!("API key file {} holds no keys", path.display()));
            }
        }
        if let Some(short) = keys.iter().find(|k| k.len() < 8) {
            return Err(format!(
                "API keys must be at least 8 characters (one has {})",
                short.len()
            ));
        }
        Ok(Self {
            digests: keys.iter().map(|k| digest(k)).collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Constant time in the key's content: every stored digest is compared.
    pub fn verify(&self, presented: &str) -> bool {
        let d = digest(presented);
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |ok, k| ok | k.ct_eq(&d))
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_with_comments_and_extra_keys_verify() {
        let dir = std::env::temp_dir().join(format!("edgellm-keys-{}", std::process::id()));
        std::fs::write(&dir, "# home lab\n\n  key-one-123456  \nkey-two-abcdef\n").unwrap();
        let keys = ApiKeys::load(Some(&dir), &["key-three-xyz123".into()]).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(keys.len(), 3);
        assert!(keys.verify("key-one-123456"));
        assert!(keys.verify("key-three-xyz123"));
        assert!(!keys.verify("key-one-12345"));
        assert!(!keys.verify(""));
        assert!(!format!("{keys:?}").contains("key-one"));
    }

    #[test]
    fn short_keys_and_empty_files_are_rejected() {
        assert!(ApiKeys::load(None, &["short".into()]).is_err());
        let path = std::env::temp_dir().join(format!("edgellm-keys-empty-{}", std::process::id()));
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(ApiKeys::load(Some(&path), &[]).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
