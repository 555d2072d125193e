use super::*;

fn serve(args: &[&str]) -> Result<ServeConfig, Error> {
    let mut argv = vec!["edgellm", "serve", "--state-dir", "/tmp/x"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| Error::config("?", e.to_string()))?;
    match cli.command {
        Command::Serve(a) => a.resolve(),
        _ => unreachable!("serve only"),
    }
}

#[test]
fn defaults_are_valid_and_derived() {
    let c = serve(&["--model", "/m/qwen.gguf"]).unwrap();
    assert_eq!(c.engine.model_id, "qwen");
    assert_eq!(c.listen.port(), 8443);
    assert!(c.engine.threads >= 1);
    assert_eq!(c.engine.loop_guard, 512);
}

#[test]
fn bad_values_name_the_flag() {
    let err = serve(&["--threads", "0"]).unwrap_err().to_string();
    assert!(err.contains("--threads"), "{err}");
    let err = serve(&["--ubatch-size", "512", "--batch-size", "256"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--ubatch-size"), "{err}");
    let err = serve(&["--cache-type-v", "q8_0", "--flash-attn", "off"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--cache-type-v") && err.contains("flash"),
        "{err}"
    );
    assert!(serve(&["--cache-type-k", "q4_0", "--cache-type-v", "q8_0"]).is_ok());
    // The slots share one cache, so only the whole context has a floor.
    let err = serve(&["--ctx-size", "32", "--parallel", "4"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--ctx-size"), "{err}");
    // The loop guard is off (0) or spans at least two of the longest stretches it looks for.
    let err = serve(&["--loop-guard", "100"]).unwrap_err().to_string();
    assert!(err.contains("--loop-guard") && err.contains("128"), "{err}");
    assert_eq!(serve(&["--loop-guard", "0"]).unwrap().engine.loop_guard, 0);
    assert_eq!(
        serve(&["--loop-guard", "128"]).unwrap().engine.loop_guard,
        128
    );
    // A LAN leaf must outlive three re-checks, or it expires before one renews it.
    let err = serve(&["--lan-leaf-lifetime", "600"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--lan-leaf-lifetime"), "{err}");
    let ok = serve(&["--lan-leaf-lifetime", "6", "--lan-recheck", "1"]).unwrap();
    assert_eq!(ok.lan_leaf_lifetime, std::time::Duration::from_secs(6));
}

fn pull(args: &[&str]) -> Result<PullOptions, Error> {
    let mut argv = vec!["edgellm", "pull", "--models-dir", "/m"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| Error::config("?", e.to_string()))?;
    match cli.command {
        Command::Pull(a) => a.resolve(),
        _ => unreachable!("pull only"),
    }
}

#[test]
fn pull_without_url_installs_the_pinned_default_as_model_gguf() {
    let p = pull(&[]).unwrap();
    assert!(p.url.starts_with("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/9217f5db79a29953eb74d5343926648285ec7e67/"), "{}", p.url);
    assert!(
        p.url.ends_with("/qwen2.5-0.5b-instruct-q4_k_m.gguf"),
        "{}",
        p.url
    );
    assert!(!p.url.contains(' '), "{}", p.url);
    assert_eq!(p.sha256.len(), 64);
    assert_eq!(p.name, "model.gguf");
    assert_eq!(p.size, Some(491_400_032));
    assert_eq!(p.models_dir, PathBuf::from("/m"));
}

#[test]
fn pull_with_url_takes_its_name_and_needs_a_hash() {
    let sha = "AB".repeat(32);
    let p = pull(&["https://h/x/m.gguf?download=1", "--sha256", &sha]).unwrap();
    assert_eq!((p.name.as_str(), p.size), ("m.gguf", None));
    assert_eq!(p.sha256, "ab".repeat(32));
    let err = pull(&["https://h/m.gguf"]).unwrap_err().to_string();
    assert!(
        err.contains("--sha256") && err.contains("required"),
        "{err}"
    );
    let err = pull(&["--sha256", &sha]).unwrap_err().to_string();
    assert!(err.contains("--sha256"), "{err}");
    let err = pull(&["ftp://h/m.gguf", "--sha256", &sha])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an http(s) URL"), "{err}");
    let err = pull(&["--name", "../x"]).unwrap_err().to_string();
    assert!(err.contains("--name"), "{err}");
}

#[test]
fn docs_flag_table_matches_the_flag_definitions() {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ));
    let start = doc
        .find(reference::BEGIN)
        .expect("BEGIN marker in docs/configuration.md");
    let end = doc[start..].find(reference::END).expect("END marker") + start + reference::END.len();
    assert!(
        doc[start..end].trim_end() == reference::serve_flags_block().trim_end(),
        "docs/configuration.md's flag table is stale: replace the block between its markers \
         with the output of `cargo run --release -- config flags`"
    );
    for long in ["--node-name", "--config", "--listen", "--api-key-file"] {
        assert!(
            doc[start..end].contains(&format!("`{long}")),
            "{long} missing from the table"
        );
    }
}
