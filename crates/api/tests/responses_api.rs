//! OpenAI's Responses API through the real router, without a model: the response object's
//! required fields and items, the stream's event sequence and numbering, `incomplete` at the
//! token limit, what the backend is asked, and refusals in OpenAI's error shape.

mod common;

use axum::http::StatusCode;
use common::{events, parse, post, weather_call, Scripted};
use edgellm_backend::{Event, FinishReason, Prompt};
use serde_json::{json, Value};

fn request(extra: Value) -> Value {
    let mut r = json!({
        "model": "gpt-anything",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}],
        "tools": [{"type": "function", "name": "get_weather", "strict": true,
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "max_output_tokens": 32,
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// The fields the spec requires on every response object.
const REQUIRED: [&str; 14] = [
    "id",
    "object",
    "created_at",
    "error",
    "incomplete_details",
    "instructions",
    "model",
    "tools",
    "output",
    "parallel_tool_calls",
    "metadata",
    "tool_choice",
    "temperature",
    "top_p",
];

fn assert_response(r: &Value) {
    for field in REQUIRED {
        assert!(r.get(field).is_some(), "{field} missing: {r}");
    }
    assert_eq!(r["object"], "response");
    assert!(r["id"].as_str().unwrap().starts_with("resp_"), "{r}");
}

#[tokio::test]
async fn a_whole_response_has_a_message_and_a_function_call() {
    let backend = Scripted::new(
        vec![Event::Text("Checking.".into()), weather_call()],
        FinishReason::ToolCalls,
    );
    let (status, body) = post(&backend, "/v1/responses", request(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = parse(&body);
    assert_response(&r);
    assert_eq!(r["status"], "completed");
    assert_eq!(r["instructions"], "Be brief.");
    assert_eq!(r["output"][0]["type"], "message");
    assert_eq!(r["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(r["output"][0]["content"][0]["text"], "Checking.");
    let call = &r["output"][1];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "get_weather");
    assert!(call["call_id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(
        parse(call["arguments"].as_str().unwrap()),
        json!({"city": "Paris"})
    );
    assert_eq!(r["usage"]["input_tokens"], 5);
    assert_eq!(r["usage"]["output_tokens"], 7);
    assert_eq!(r["usage"]["total_tokens"], 12);

    let seen = backend.seen.lock().unwrap();
    let Prompt::Chat(messages) = &seen[0].prompt else {
        panic!("{:?}", seen[0].prompt)
    };
    assert_eq!(messages[0].role, "system");
    assert_eq!(messages[1].content, "Weather in Paris?");
    assert_eq!(seen[0].params.max_tokens, Some(32));
    assert_eq!(
        seen[0].tools.as_ref().unwrap().definitions[0]["function"]["name"],
        "get_weather"
    );
}

#[tokio::test]
async fn the_token_limit_makes_it_incomplete() {
    let backend = Scripted::new(vec![Event::Text("Par".into())], FinishReason::Length);
    let (_, body) = post(&backend, "/v1/responses", request(json!({}))).await;
    let r = parse(&body);
    assert_eq!(r["status"], "incomplete", "{r}");
    assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
}

#[tokio::test]
async fn a_stream_follows_the_spec_sequence() {
    let backend = Scripted::new(
        vec![
            Event::Text("Check".into()),
            Event::Text("ing.".into()),
            weather_call(),
        ],
        FinishReason::ToolCalls,
    );
    let (status, body) = post(&backend, "/v1/responses", request(json!({"stream": true}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = events(&body);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ],
        "{body}"
    );
    for (i, (name, data)) in got.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i, "{data}");
    }
    assert!(
        !body.contains("[DONE]"),
        "the Responses stream has no [DONE]"
    );
    assert_response(&got[0].1["response"]);
    assert_eq!(got[0].1["response"]["status"], "in_progress");
    assert_eq!(got[6].1["text"], "Checking.");
    assert_eq!(got[9].1["output_index"], 1);
    assert_eq!(got[11].1["name"], "get_weather");
    let last = &got[13].1["response"];
    assert_response(last);
    assert_eq!(last["status"], "completed");
    assert_eq!(last["output"][0]["content"][0]["text"], "Checking.");
    assert_eq!(last["output"][1]["name"], "get_weather");
    assert_eq!(last["usage"]["output_tokens"], 7);
    // The deltas' item ids are the items' ids.
    assert_eq!(got[4].1["item_id"], last["output"][0]["id"]);
    assert_eq!(got[10].1["item_id"], last["output"][1]["id"]);
}

#[tokio::test]
async fn what_it_cannot_do_is_refused_in_openais_shape() {
    let backend = Scripted::new(vec![], FinishReason::Stop);
    for (extra, param) in [
        (
            json!({"previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (json!({"tools": [{"type": "web_search"}]}), "tools[0].type"),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}),
            "input[0].content[0].type",
        ),
        (json!({"max_output_tokens": -1}), "max_output_tokens"),
        (
            json!({"text": {"format": {"type": "xml"}}}),
            "text.format.type",
        ),
    ] {
        let (status, body) = post(&backend, "/v1/responses", request(extra.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {body}");
        let e = parse(&body);
        assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
        assert_eq!(e["error"]["param"], param, "{e}");
    }
}
