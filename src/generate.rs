//! `edgellm generate`: one greedy answer on stdout, in-process. A smoke test on the device
//! (and under qemu in CI) that the model loads and produces text.

use std::io::Write;

use edgellm_backend::{Backend, ChatMessage, Event, GenerateRequest, Prompt, SamplingParams};
use edgellm_engine::{EngineConfig, EngineHandle};

use crate::config::GenerateOptions;
use crate::error::Error;

pub fn main(options: GenerateOptions, engine: EngineConfig) -> Result<(), Error> {
    crate::config::default_omp_wait_policy();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    rt.block_on(async {
        let handle = EngineHandle::spawn(engine)?;
        let info = handle.wait_loaded().await.map_err(Error::ModelLoad)?;
        eprintln!("edgellm: {}", info.cpu.summary());
        let prompt = if options.raw {
            Prompt::Text(options.prompt)
        } else {
            Prompt::Chat(vec![ChatMessage::new("user", options.prompt)])
        };
        let params = SamplingParams {
            temperature: options.temperature,
            seed: Some(0),
            max_tokens: Some(options.max_tokens),
            ..SamplingParams::default()
        };
        let mut events = handle
            .prepare(GenerateRequest::new(prompt, params))
            .and_then(|prepared| handle.submit(prepared))
            .map_err(|e| Error::Generate(e.to_string()))?;
        let mut out = std::io::stdout().lock();
        while let Some(event) = events.recv().await {
            match event {
                Event::Text(t) => {
                    let _ = out.write_all(t.as_bytes());
                    let _ = out.flush();
                }
                Event::Done { .. } => {
                    let _ = writeln!(out);
                    return Ok(());
                }
                Event::Error(e) => return Err(Error::Generate(e.to_string())),
                // No tools nor logprobs from the command line.
                Event::Started { .. } | Event::ToolCalls(_) | Event::Logprob(_) => {}
            }
        }
        Err(Error::Generate("the engine stopped".into()))
    })
}
