//! `edgellm bench`: measure this device with the real engine, in-process.
//!
//! Prompt processing and generation speed, time to first token, aggregate throughput at
//! 1, 2 and 4 concurrent streams, a cold versus a warm (prefix-reused) second chat turn,
//! the cost of a JSON-schema constraint (on its own stream and on a stream beside it),
//! speculative decoding off versus on (see `speculation`), model load time and peak RSS.
//! A table for people, `--json` for machines.

mod speculation;

use std::time::Instant;

use edgellm_backend::{Backend, ChatMessage, Event, GenerateRequest, Prompt, SamplingParams};
use edgellm_engine::{EngineConfig, EngineHandle};
use serde_json::json;

use crate::config::BenchOptions;
use crate::error::Error;

/// What one request measured.
#[derive(Debug, Clone, Default)]
struct Run {
    prompt_tokens: usize,
    generated: usize,
    ttft_s: f64,
    prompt_s: f64,
    generation_s: f64,
    text: String,
}

async fn run(engine: &EngineHandle, prompt: Prompt, max_tokens: u32) -> Result<Run, Error> {
    run_with(engine, prompt, max_tokens, None).await
}

/// A greedy request, constrained to JSON valid under `schema` when given.
async fn run_with(
    engine: &EngineHandle,
    prompt: Prompt,
    max_tokens: u32,
    schema: Option<serde_json::Value>,
) -> Result<Run, Error> {
    let params = SamplingParams {
        temperature: 0.0,
        max_tokens: Some(max_tokens),
        format: schema,
        ..SamplingParams::default()
    };
    let mut events = engine
        .prepare(GenerateRequest::new(prompt, params))
        .and_then(|prepared| engine.submit(prepared))
        .map_err(|e| Error::Bench(e.to_string()))?;
    let mut text = String::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::Text(t) => text.push_str(&t),
            Event::Done { usage, timings, .. } => {
                return Ok(Run {
                    prompt_tokens: usage.prompt_tokens,
                    generated: usage.completion_tokens,
                    ttft_s: (timings.queue_us + timings.prompt_us) as f64 / 1e6,
                    prompt_s: timings.prompt_us as f64 / 1e6,
                    generation_s: timings.generation_us as f64 / 1e6,
                    text,
                })
            }
            Event::Error(e) => return Err(Error::Bench(e.to_string())),
            _ => {}
        }
    }
    Err(Error::Bench("the engine stopped".into()))
}

fn chat(nonce: usize, turns: &[&str]) -> Prompt {
    let mut messages = vec![ChatMessage::new(
        "system",
        format!("You are assistant number {nonce}. Answer briefly."),
    )];
    for (i, t) in turns.iter().enumerate() {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages.push(ChatMessage::new(role, *t));
    }
    Prompt::Chat(messages)
}

/// The run whose `rate` is the median of three.
/// Generation speed of one run after its first token.
fn rate(r: &Run) -> f64 {
    r.generated.saturating_sub(1) as f64 / r.generation_s.max(1e-9)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Two streams at once, the second plain or under a JSON schema (llguidance computes a
/// token mask over the whole vocabulary each step). Returns the medians over `rounds` of:
/// the first stream's speed beside a plain / a constrained stream, and the second stream's
/// own speed plain / constrained.
async fn constraint_cost(
    engine: &EngineHandle,
    gen_tokens: u32,
    rounds: usize,
) -> Result<[f64; 4], Error> {
    let schema = json!({
        "type": "object",
        "properties": { "fruits": { "type": "array", "items": { "type": "object",
            "properties": { "name": { "type": "string" }, "colour": { "type": "string" },
                "weight_grams": { "type": "integer" } },
            "required": ["name", "colour", "weight_grams"] } } },
        "required": ["fruits"],
    });
    let mut out: [Vec<f64>; 4] = Default::default();
    for round in 0..rounds {
        for constrained in [false, true] {
            let tag = 40 + round * 2 + usize::from(constrained);
            let (beside, other) = futures::future::join(
                run(
                    engine,
                    Prompt::Text(format!("{tag}: Write about the sea.")),
                    gen_tokens,
                ),
                run_with(
                    engine,
                    chat(
                        tag,
                        &["List twenty fruits with their colour and weight as JSON."],
                    ),
                    gen_tokens,
                    constrained.then(|| schema.clone()),
                ),
            )
            .await;
            let i = usize::from(constrained);
            out[i].push(rate(&beside?));
            out[2 + i].push(rate(&other?));
        }
    }
    Ok(out.map(median))
}

fn median_by(mut runs: Vec<Run>, rate: impl Fn(&Run) -> f64) -> Run {
    runs.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    runs.swap_remove(runs.len() / 2)
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn main(args: BenchOptions, engine_config: EngineConfig) -> Result<(), Error> {
    crate::config::default_omp_wait_policy();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    rt.block_on(bench(args, engine_config))
}

async fn bench(args: BenchOptions, cfg: EngineConfig) -> Result<(), Error> {
    let t0 = Instant::now();
    let engine = EngineHandle::spawn(cfg.clone())?;
    let info = engine.wait_loaded().await.map_err(Error::ModelLoad)?;
    let load_s = t0.elapsed().as_secs_f64();
    let progress = |what: &str| {
        if !args.json {
            eprintln!("bench: {what}");
        }
    };

    // Like llama-bench: one short request first, so the measured runs do not pay for
    // faulting in the mmapped weights and allocating compute buffers.
    progress("warm-up");
    run(&engine, Prompt::Text("0: warm up".into()), 2).await?;

    // Three runs each (distinct prompts, so none reuses another's cache); the median counts.
    progress("prompt processing");
    let filler = "Edge devices run language models locally to keep data private. "
        .repeat(args.prompt_words / 10 + 1);
    let mut pps = Vec::new();
    for i in 1..=3 {
        pps.push(run(&engine, Prompt::Text(format!("{i}: {filler}")), 1).await?);
    }
    let pp = median_by(pps, |r| r.prompt_tokens as f64 / r.prompt_s);
    progress("generation");
    let mut tgs = Vec::new();
    for i in 4..=6 {
        let prompt = Prompt::Text(format!("{i}: Once upon a time"));
        tgs.push(run(&engine, prompt, args.gen_tokens).await?);
    }
    let tg = median_by(tgs, |r| {
        r.generated.saturating_sub(1) as f64 / r.generation_s
    });

    let mut aggregate = Vec::new();
    for streams in [1usize, 2, 4] {
        progress(&format!("{streams} concurrent streams"));
        let started = Instant::now();
        let runs = futures::future::join_all((0..streams).map(|i| {
            run(
                &engine,
                Prompt::Text(format!("{}{i}: Write about the sea.", 10 + streams)),
                args.gen_tokens / 2,
            )
        }))
        .await;
        let wall = started.elapsed().as_secs_f64();
        let tokens: usize = runs
            .into_iter()
            .map(|r| r.map(|r| r.generated))
            .sum::<Result<usize, _>>()?;
        aggregate.push((streams, tokens as f64 / wall));
    }

    progress("cold and warm second turn");
    // A second turn whose history is the first turn plus the model's own answer: warm, the
    // slot still holds that history; cold, the same conversation under another system prompt.
    let first = "Explain in a few sentences how a refrigerator keeps food cold.";
    let second = "And how does a freezer differ?";
    let reply = run(&engine, chat(200, &[first]), 64).await?.text;
    let warm = run(&engine, chat(200, &[first, &reply, second]), 1).await?;
    let cold = run(&engine, chat(100, &[first, &reply, second]), 1).await?;

    let constraint = if cfg.parallel >= 2 {
        progress("a JSON-schema stream beside a plain one");
        Some(constraint_cost(&engine, args.gen_tokens, 3).await?)
    } else {
        None
    };

    progress("speculative decoding off and on");
    let spec_on = cfg.spec == edgellm_engine::SpecMode::Lookup;
    let (spec_json, spec_lines) = speculation::section(&engine, 3, spec_on).await?;

    let report = json!({
        "model": cfg.model_id,
        "cpu_backend": info.cpu,
        "threads": cfg.threads,
        "parallel": cfg.parallel,
        "ctx_size": engine.config().ctx_size,
        "load_seconds": load_s,
        "prompt_tokens": pp.prompt_tokens,
        "prompt_tokens_per_second": pp.prompt_tokens as f64 / pp.prompt_s,
        "generated_tokens": tg.generated,
        "generation_tokens_per_second": (tg.generated.saturating_sub(1)) as f64 / tg.generation_s,
        "time_to_first_token_seconds": tg.ttft_s,
        "aggregate_tokens_per_second": aggregate.iter().map(|(n, t)| json!({ "streams": n, "tokens_per_second": t })).collect::<Vec<_>>(),
        "second_turn_ttft_cold_seconds": cold.ttft_s,
        "second_turn_ttft_warm_seconds": warm.ttft_s,
        "json_schema_constraint": constraint.map(|[plain, beside, free, constrained]| json!({
            "neighbour_tokens_per_second_beside_plain": plain,
            "neighbour_tokens_per_second_beside_constrained": beside,
            "stream_tokens_per_second_plain": free,
            "stream_tokens_per_second_constrained": constrained,
        })),
        "speculation": { "mode": if spec_on { "lookup" } else { "off" }, "draft_max": cfg.draft_max, "workloads": spec_json },
        "peak_rss_mib": peak_rss_mib(),
    });
    if args.json {
        println!("{report:#}");
        return Ok(());
    }
    println!(
        "edgellm bench: {} ({} threads, {} slots, ctx {}, speculation {})",
        cfg.model_id,
        cfg.threads,
        cfg.parallel,
        engine.config().ctx_size,
        if spec_on { "lookup" } else { "off" }
    );
    println!("  cpu backend              {}", info.cpu.summary());
    println!("  model load               {:>8.2} s", load_s);
    println!(
        "  prompt processing        {:>8.1} tok/s  ({} tokens)",
        pp.prompt_tokens as f64 / pp.prompt_s,
        pp.prompt_tokens
    );
    println!(
        "  generation               {:>8.1} tok/s  ({} tokens)",
        tg.generated.saturating_sub(1) as f64 / tg.generation_s,
        tg.generated
    );
    println!("  time to first token      {:>8.3} s", tg.ttft_s);
    for (n, t) in &aggregate {
        println!("  {n} stream(s) aggregate    {t:>8.1} tok/s");
    }
    println!(
        "  2nd turn TTFT cold       {:>8.3} s  ({} prompt tokens)",
        cold.ttft_s, cold.prompt_tokens
    );
    println!(
        "  2nd turn TTFT warm       {:>8.3} s  ({:.1}x faster)",
        warm.ttft_s,
        cold.ttft_s / warm.ttft_s.max(1e-6)
    );
    if let Some([plain, beside, free, constrained]) = constraint {
        println!(
            "  stream beside JSON schema{:>8.1} tok/s  (beside a plain stream {plain:.1}, {:.2}x)",
            beside,
            beside / plain.max(1e-9)
        );
        println!(
            "  JSON-schema stream       {:>8.1} tok/s  (unconstrained {free:.1}, {:.2}x)",
            constrained,
            constrained / free.max(1e-9)
        );
    }
    for line in spec_lines {
        println!("{line}");
    }
    if let Some(rss) = peak_rss_mib() {
        println!("  peak RSS                 {rss:>8.0} MiB");
    }
    Ok(())
}
