//! Fuzz targets (property-based, stable Rust) for the engine's pure parts: the stop-string
//! matcher, the UTF-8 decoder and the chat template. Cases per property: `PROPTEST_CASES`.

use edgellm_backend::ChatMessage;
use edgellm_engine::decoder::Utf8Decoder;
use edgellm_engine::stop::{StopCheck, StopMatcher};
use edgellm_engine::template::ChatTemplate;
use proptest::prelude::*;

const QWEN_TEMPLATE: &str = include_str!("fixtures/qwen2.5-chat-template.jinja");

/// Split `s` into pieces at arbitrary char boundaries.
fn pieces(s: &str, cuts: &[usize]) -> Vec<String> {
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).skip(1).collect();
    let mut at: Vec<usize> = cuts
        .iter()
        .filter_map(|&c| bounds.get(c % bounds.len().max(1)).copied())
        .collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for cut in at {
        out.push(s[prev..cut].to_owned());
        prev = cut;
    }
    out.push(s[prev..].to_owned());
    out
}

/// What a stream must show: the text up to the stop string that completes first.
fn reference(text: &str, stops: &[String]) -> (String, bool) {
    let stops: Vec<&String> = stops.iter().filter(|s| !s.is_empty()).collect();
    for end in 1..=text.len() {
        if !text.is_char_boundary(end) {
            continue;
        }
        if let Some(s) = stops
            .iter()
            .filter(|s| text[..end].ends_with(s.as_str()))
            .max_by_key(|s| s.len())
        {
            return (text[..end - s.len()].to_owned(), true);
        }
    }
    (text.to_owned(), false)
}

fn small_text() -> impl Strategy<Value = String> {
    // A small alphabet so stop strings actually occur; plus multi-byte characters.
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "c", "\n", "é", "🙂", "<|", "|>"]),
        0..40,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn stop_strings_end_the_text_as_a_byte_by_byte_stream_would(
        text in small_text(),
        stops in prop::collection::vec(small_text().prop_map(|s| s.chars().take(4).collect::<String>()), 0..4),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut m = StopMatcher::new(stops.clone());
        let mut out = String::new();
        let mut stopped = false;
        for piece in pieces(&text, &cuts) {
            match m.push(&piece) {
                StopCheck::Continue(t) => out.push_str(&t),
                StopCheck::Stopped(t) => {
                    out.push_str(&t);
                    stopped = true;
                    break;
                }
            }
        }
        if !stopped {
            out.push_str(&m.finish());
        }
        prop_assert_eq!((out, stopped), reference(&text, &stops));
    }

    #[test]
    fn utf8_pieces_decode_like_the_whole(
        bytes in prop::collection::vec(prop_oneof![any::<u8>(), Just(0xF0u8), Just(0x9Fu8), Just(0x99u8), Just(0x82u8)], 0..64),
        cuts in prop::collection::vec(0usize..64, 0..8),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= bytes.len()).collect();
        cuts.sort_unstable();
        let mut d = Utf8Decoder::default();
        let mut out = String::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            out.push_str(&d.push(&bytes[prev..c]));
            prev = c;
        }
        out.push_str(&d.finish());
        prop_assert_eq!(out, String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn the_qwen_template_renders_any_conversation_or_refuses_it(
        messages in prop::collection::vec(
            // The roles the API passes on ("developer" arrives as "system").
            (prop::sample::select(vec!["system", "user", "assistant", "tool"]), ".{0,40}"),
            0..6,
        ),
    ) {
        let template = ChatTemplate::new(Some(QWEN_TEMPLATE.into()), String::new(), "<|im_end|>".into()).unwrap();
        let messages: Vec<ChatMessage> = messages
            .into_iter()
            .map(|(role, content)| ChatMessage::new(role, content))
            .collect();
        match template.render(&messages, &[]) {
            Ok(prompt) => {
                prop_assert!(prompt.ends_with("<|im_start|>assistant\n"), "{}", prompt);
                for m in &messages {
                    prop_assert!(prompt.contains(&m.content), "{:?} missing", m.content);
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("chat template"), "{}", e),
        }
    }
}
