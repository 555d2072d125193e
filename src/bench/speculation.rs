//! The speculation section of `edgellm bench`: generation speed with prompt-lookup drafting
//! off and on, on work that copies its prompt (a code edit, quoting a source) and on plain
//! chat, with the share of drafted tokens accepted. Same requests, same engine, one run.

use edgellm_backend::{Backend, ChatMessage, Prompt};
use edgellm_engine::EngineHandle;
use serde_json::{json, Value};

use super::{median, rate, run};
use crate::error::Error;

/// About 300 tokens of Rust: the code-edit workload renames one identifier in it.
const FUNCTION: &str = r#"fn parse_readings(input: &str, limits: &Limits) -> Result<Vec<Reading>, ParseError> {
    let mut readings = Vec::new();
    for (line_no, line) in input.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 3 {
            return Err(ParseError::FieldCount { line: line_no + 1, found: fields.len() });
        }
        let sensor = fields[0].to_string();
        let celsius: f64 = fields[1]
            .parse()
            .map_err(|_| ParseError::Number { line: line_no + 1, field: "celsius" })?;
        let humidity: f64 = fields[2]
            .parse()
            .map_err(|_| ParseError::Number { line: line_no + 1, field: "humidity" })?;
        if celsius < limits.min_celsius || celsius > limits.max_celsius {
            return Err(ParseError::OutOfRange { line: line_no + 1, value: celsius });
        }
        if !(0.0..=100.0).contains(&humidity) {
            return Err(ParseError::OutOfRange { line: line_no + 1, value: humidity });
        }
        readings.push(Reading { sensor, celsius, humidity });
    }
    readings.sort_by(|a, b| a.sensor.cmp(&b.sensor));
    Ok(readings)
}
"#;

const SOURCE: &str = "In the spring of 1856 the survey party left the river at the old ford \
and followed the ridge north for eleven days. They carried chains, a theodolite, two barometers \
and enough flour for six weeks. Each evening the chief surveyor copied the day's bearings into \
a clean book, checked them against the stars, and read the figures aloud so that the others \
could catch his mistakes. Only twice in the whole season did they find one.";

/// One workload's figures.
struct Row {
    name: &'static str,
    off: f64,
    on: f64,
    drafted: u64,
    accepted: u64,
    generated: usize,
}

fn workloads() -> Vec<(&'static str, String, u32)> {
    vec![
        (
            "code edit",
            format!(
                "Return this Rust function with the variable `readings` renamed to `parsed`. \
                 Change nothing else and output only the code.\n\n```rust\n{FUNCTION}```"
            ),
            420,
        ),
        (
            "quote the source",
            format!("Repeat the following text exactly, word for word:\n\n{SOURCE}"),
            160,
        ),
        (
            "plain chat",
            "Write a short story about a fox who learns to fish.".into(),
            160,
        ),
    ]
}

/// Tokens/s with speculation off and on (medians of `rounds` runs each, interleaved), and the
/// acceptance of the drafts. Leaves speculation as `configured`.
async fn measure(
    engine: &EngineHandle,
    rounds: usize,
    configured: bool,
) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    for (name, prompt, max_tokens) in workloads() {
        let prompt = Prompt::Chat(vec![ChatMessage::new("user", prompt)]);
        let (mut off, mut on) = (Vec::new(), Vec::new());
        let (mut drafted, mut accepted, mut generated) = (0, 0, 0);
        for _ in 0..rounds {
            engine.set_speculation(false);
            off.push(rate(&run(engine, prompt.clone(), max_tokens).await?));
            engine.set_speculation(true);
            let before = engine.stats();
            let r = run(engine, prompt.clone(), max_tokens).await?;
            let after = engine.stats();
            drafted += after.spec_drafted_tokens_total - before.spec_drafted_tokens_total;
            accepted += after.spec_accepted_tokens_total - before.spec_accepted_tokens_total;
            generated += r.generated;
            on.push(rate(&r));
        }
        rows.push(Row {
            name,
            off: median(off),
            on: median(on),
            drafted,
            accepted,
            generated,
        });
    }
    engine.set_speculation(configured);
    Ok(rows)
}

/// The section, as JSON and as lines for the table.
pub(super) async fn section(
    engine: &EngineHandle,
    rounds: usize,
    configured: bool,
) -> Result<(Value, Vec<String>), Error> {
    let rows = measure(engine, rounds, configured).await?;
    let json = rows
        .iter()
        .map(|r| {
            json!({
                "workload": r.name,
                "tokens_per_second_off": r.off,
                "tokens_per_second_on": r.on,
                "speedup": r.on / r.off.max(1e-9),
                "drafted_tokens": r.drafted,
                "accepted_tokens": r.accepted,
                "acceptance_rate": r.accepted as f64 / (r.drafted.max(1)) as f64,
                "accepted_share_of_generated": r.accepted as f64 / (r.generated.max(1)) as f64,
            })
        })
        .collect();
    let lines = rows
        .iter()
        .map(|r| {
            format!(
                "  spec: {:<17}{:>7.1} tok/s  (off {:.1}, {:.2}x; {} of {} drafted accepted, {:.0}% of tokens)",
                r.name,
                r.on,
                r.off,
                r.on / r.off.max(1e-9),
                r.accepted,
                r.drafted,
                100.0 * r.accepted as f64 / (r.generated.max(1)) as f64
            )
        })
        .collect();
    Ok((Value::Array(json), lines))
}
