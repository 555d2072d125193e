//! The optional TOML settings file: `--config PATH`, `EDGELLM_CONFIG`, or
//! `/etc/edgellm/config.toml` when it exists. Keys are the `serve` flag names
//! (`ctx-size = 4096`, `ctx_size` works too). Precedence: flags, then environment, then the
//! file, then defaults. The file is applied by exporting each key as its `EDGELLM_*`
//! variable when the environment does not already set it, so clap validates every value
//! in one place; unknown keys and values that are not scalars are errors naming the key.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::config::Cli;
use crate::error::Error;

/// Read when no file is named and it exists.
pub const DEFAULT_PATH: &str = "/etc/edgellm/config.toml";

/// The file to read: `--config X` / `--config=X`, else `EDGELLM_CONFIG`, else the default
/// path if it exists.
pub fn locate(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter().map(|a| a.to_string_lossy());
    while let Some(a) = args.next() {
        if a == "--config" {
            return args.next().map(|p| PathBuf::from(p.into_owned()));
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    if let Some(p) = std::env::var_os("EDGELLM_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    Some(PathBuf::from(DEFAULT_PATH)).filter(|p| p.exists())
}

/// Flag name -> environment variable, for every `serve` flag that has one.
fn known_keys() -> BTreeMap<String, String> {
    let cli = Cli::command();
    let serve = cli.find_subcommand("serve").expect("serve subcommand");
    serve
        .get_arguments()
        .filter_map(|a| {
            Some((
                a.get_long()?.to_owned(),
                a.get_env()?.to_string_lossy().into_owned(),
            ))
        })
        .filter(|(long, _)| long != "config")
        .collect()
}

fn scalar(key: &str, value: &toml::Value, path: &Path) -> Result<String, Error> {
    let bad = |what: &str| Error::ConfigFile {
        path: path.into(),
        message: format!("key '{key}': {what}"),
    };
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                toml::Value::Array(_) | toml::Value::Table(_) => {
                    Err(bad("lists may only hold plain values"))
                }
                other => scalar(key, other, path),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        toml::Value::Datetime(_) | toml::Value::Table(_) => {
            return Err(bad("expected a string, number, boolean or list"))
        }
    })
}

/// Parse the file into `(env var, value)` pairs.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigFile {
        path: path.into(),
        message: e.to_string(),
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Error::ConfigFile {
            path: path.into(),
            message: e.message().to_owned(),
        })?;
    let known = known_keys();
    table
        .iter()
        .map(|(key, value)| {
            let flag = key.replace('_', "-");
            let env = known.get(&flag).ok_or_else(|| Error::ConfigFile {
                path: path.into(),
                message: format!(
                    "unknown key '{key}' (keys are the flags of `edgellm serve --help`)"
                ),
            })?;
            Ok((env.clone(), scalar(key, value, path)?))
        })
        .collect()
}

/// Apply the file found by [`locate`], if any. Call before any thread starts.
pub fn apply(argv: &[OsString]) -> Result<Option<PathBuf>, Error> {
    let Some(path) = locate(argv) else {
        return Ok(None);
    };
    for (env, value) in read(&path)? {
        if std::env::var_os(&env).is_none() {
            std::env::set_var(env, value);
        }
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "edgellm-cfg-{}-{}.toml",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn keys_map_to_their_variables() {
        let p = file("ctx-size = 2048\nmlock = true\ntls_name = [\"a.local\", \"10.0.0.2\"]\nlisten = \"0.0.0.0:443\"\n");
        let mut got = read(&p).unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("EDGELLM_CTX_SIZE".into(), "2048".into()),
                ("EDGELLM_LISTEN".into(), "0.0.0.0:443".into()),
                ("EDGELLM_MLOCK".into(), "true".into()),
                ("EDGELLM_TLS_NAMES".into(), "a.local,10.0.0.2".into()),
            ]
        );
    }

    #[test]
    fn unknown_keys_and_tables_are_named() {
        let err = read(&file("ctx-sise = 1\n")).unwrap_err().to_string();
        assert!(err.contains("unknown key 'ctx-sise'"), "{err}");
        let err = read(&file("[listen]\nport = 1\n")).unwrap_err().to_string();
        assert!(err.contains("key 'listen'"), "{err}");
        let err = read(&file("ctx-size = \n")).unwrap_err().to_string();
        assert!(err.contains(".toml"), "{err}");
    }

    #[test]
    fn the_example_file_knows_every_key_and_every_key_is_in_it() {
        let example = include_str!("../systemd/config.toml.example");
        let uncommented: String = example
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let pairs = read(&file(&uncommented)).unwrap();
        let documented: std::collections::BTreeSet<String> =
            pairs.into_iter().map(|(env, _)| env).collect();
        let all: std::collections::BTreeSet<String> = known_keys().into_values().collect();
        assert_eq!(
            documented, all,
            "systemd/config.toml.example is missing keys"
        );
    }

    #[test]
    fn locate_prefers_the_flag() {
        let argv: Vec<OsString> = ["edgellm", "serve", "--config", "/x.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(locate(&argv), Some(PathBuf::from("/x.toml")));
        let argv: Vec<OsString> = ["edgellm", "serve", "--config=/y.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(locate(&argv), Some(PathBuf::from("/y.toml")));
    }
}
