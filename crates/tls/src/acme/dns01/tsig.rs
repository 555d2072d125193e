//! TSIG keys in BIND's key-file format, as `tsig-keygen` and `ddns-confgen` write them:
//!
//! ```text
//! key "edgellm" {
//!     algorithm hmac-sha256;
//!     secret "base64...";
//! };
//! ```

use std::path::Path;

use base64::Engine;
use hickory_client::proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_client::proto::dnssec::tsig::TSigner;
use hickory_client::proto::rr::Name;

/// A TSIG key read from a key file.
#[derive(Clone)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// Read and check a key file; the error is one line naming the file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the TSIG key {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("TSIG key {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text: String = text
            .lines()
            .map(without_comment)
            .collect::<Vec<_>>()
            .join("\n");
        let after_key = text
            .split_once("key")
            .map(|(_, rest)| rest)
            .ok_or("no `key \"name\" { ... };` block (write it with tsig-keygen)")?;
        let name = quoted(after_key).ok_or("the key has no quoted name")?;
        let algorithm = statement(after_key, "algorithm")
            .ok_or("the key has no `algorithm` statement")?
            .trim_matches('"')
            .to_ascii_lowercase();
        let secret = statement(after_key, "secret").ok_or("the key has no `secret` statement")?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.trim_matches('"'))
            .map_err(|e| format!("the secret is not base64: {e}"))?;
        if secret.is_empty() {
            return Err("the secret is empty".into());
        }
        let key = Self {
            name: name.to_string(),
            algorithm,
            secret,
        };
        key.signer()?;
        Ok(key)
    }

    /// The signer for DNS messages.
    pub fn signer(&self) -> Result<TSigner, String> {
        let algorithm = match self.algorithm.as_str() {
            "hmac-sha256" => TsigAlgorithm::HmacSha256,
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            other => {
                return Err(format!(
                    "algorithm '{other}' is not supported (use hmac-sha256, hmac-sha384 or hmac-sha512)"
                ))
            }
        };
        let name =
            Name::from_ascii(&self.name).map_err(|e| format!("key name '{}': {e}", self.name))?;
        TSigner::new(self.secret.clone(), algorithm, name, 300).map_err(|e| e.to_string())
    }
}

/// The first `"..."` in `text`.
/// A line up to its `#` or `//` comment. Inside quotes neither starts one: a base64 secret
/// may well contain `//`.
fn without_comment(line: &str) -> &str {
    let mut quoted = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'#' if !quoted => return &line[..i],
            b'/' if !quoted && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn quoted(text: &str) -> Option<&str> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len]).filter(|s| !s.is_empty())
}

/// The value of `<word> value;`.
fn statement<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before_ok = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let after = &rest[at + word.len()..];
        if before_ok && after.starts_with(char::is_whitespace) {
            return after
                .split(';')
                .next()
                .map(str::trim)
                .filter(|v| !v.is_empty());
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_with_slashes_is_not_a_comment() {
        // 1 in 100 tsig-keygen secrets holds "//" (seen as an intermittent test failure).
        let key = TsigKey::parse(
            "key \"k\" { // the key\n\talgorithm hmac-sha256; # sha256\n\tsecret \"////AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw=\";\n};\n",
        )
        .unwrap();
        assert_eq!(key.algorithm, "hmac-sha256");
        assert_eq!(key.secret.len(), 32);
    }

    #[test]
    fn reads_tsig_keygen_output() {
        let key = TsigKey::parse(
            "key \"edgellm-acme\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==\";\n};\n",
        )
        .unwrap();
        assert_eq!(key.name, "edgellm-acme");
        assert_eq!(key.algorithm, "hmac-sha256");
        assert_eq!(key.secret, b"secret-secret-secret-secret!");
        assert!(
            !format!("{key:?}").contains("c2Vj"),
            "the secret must not be logged"
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |t: &str| TsigKey::parse(t).unwrap_err();
        assert!(err("nothing here").contains("no `key"));
        assert!(err("key \"k\" { secret \"YQ==\"; };").contains("algorithm"));
        assert!(err("key \"k\" { algorithm hmac-sha256; };").contains("secret"));
        assert!(err("key \"k\" { algorithm hmac-sha256; secret \"!!\"; };").contains("base64"));
        assert!(
            err("key \"k\" { algorithm hmac-md5; secret \"YQ==\"; };").contains("not supported")
        );
    }
}
