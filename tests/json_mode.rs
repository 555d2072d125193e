//! JSON mode that gives content, measured as a benchmark that prints its figures: the
//! prompts of `tests/clients/json_mode.py` (facts asked for as an object, some naming the
//! key, some plain questions; each with and without the word JSON), answered greedily in
//! JSON mode (`response_format: json_object`: a non-empty object) and with an open object
//! that may be empty (JSON mode before, which answered plain questions with `{}`). The share
//! of answers that are a non-empty object carrying the fact is printed for both; JSON mode
//! must do at least as well, and give content for most.

mod common;

use common::Server;

#[test]
fn json_mode_answers_carry_the_asked_for_facts() {
    let server = Server::start(&[]);
    let got = common::run_client_script("json_mode.py", &server);
    let share = |variant: &str, word: &str| {
        (
            got[variant]["good"][word].as_u64().unwrap(),
            got[variant]["of"].as_u64().unwrap(),
        )
    };
    for variant in ["json_mode", "compact"] {
        for word in ["with_json", "without_json"] {
            let (good, of) = share(variant, word);
            eprintln!("json mode benchmark: {variant:9} {word:12} {good}/{of} non-empty objects with the fact");
        }
    }
    let total = |variant: &str| share(variant, "with_json").0 + share(variant, "without_json").0;
    let (now, before) = (total("json_mode"), total("compact"));
    let of = 2 * share("json_mode", "with_json").1;
    assert!(
        now >= before,
        "JSON mode does worse than the compact grammar: {got}"
    );
    assert!(
        2 * now > of,
        "JSON mode gives content for fewer than half: {got}"
    );
}
