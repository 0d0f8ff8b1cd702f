//! Property tests of every loader and parser: arbitrary text and bytes, and valid files with
//! random edits (characters deleted, inserted, replaced), never panic; what is refused is
//! refused with an error that names the file (the contracts are `sigmix_tests::inputs`, which
//! the cargo-fuzz targets in fuzz/ share). 256 cases each from a fixed seed in `cargo test`
//! (`sigmix_tests::proptest_config`: SIGMIX_FUZZ_CASES and SIGMIX_FUZZ_SEED for longer runs).

use proptest::prelude::*;
use proptest::sample::Index;
use sigmix::sweep::SweepPlan;
use sigmix::train::RunConfig;
use sigmix::tta::TtaConfig;
use sigmix_tests::inputs;

const RUN_TABLE_CSV: &str = "model_size,n_tokens,weight_a,weight_b,a_loss,b_loss\n\
    1e6,2e7,0.5,0.5,3.1,3.3\n2e6,4e7,0.25,0.75,2.9,,\n4e6,8e7,1,0,2.7,3.0\n";
const SWEEP_ROWS: &str = include_str!("../fixtures/sweep-rows.jsonl");
const FITS: &str = include_str!("../fixtures/fits.json");

fn config() -> ProptestConfig {
    sigmix_tests::proptest_config(256)
}

/// Random edits of a text: (where, what, how) with how 0 delete, 1 insert, 2 replace.
fn edits() -> impl Strategy<Value = Vec<(Index, char, u8)>> {
    proptest::collection::vec((any::<Index>(), any::<char>(), 0u8..3), 0..12)
}

fn edit(text: &str, edits: &[(Index, char, u8)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (at, c, how) in edits {
        let i = at.index(chars.len() + 1);
        match how {
            0 if i < chars.len() => {
                chars.remove(i);
            }
            2 if i < chars.len() => chars[i] = *c,
            _ => chars.insert(i, *c),
        }
    }
    chars.into_iter().collect()
}

/// Either arbitrary text or `valid` with random edits (which reach much deeper into a parser).
fn text_like(valid: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), edits().prop_map(move |e| edit(valid, &e))]
}

/// A broken contract fails the case with its description.
fn holds(r: Result<(), inputs::Broken>) -> Result<(), TestCaseError> {
    r.map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn run_tables_parse_or_name_the_file(text in text_like(RUN_TABLE_CSV)) {
        holds(inputs::run_table(text.as_bytes()))?;
    }

    #[test]
    fn sweep_files_read_or_name_the_line(text in text_like(SWEEP_ROWS)) {
        holds(inputs::sweep_rows(text.as_bytes()))?;
    }

    #[test]
    fn fit_files_load_or_name_the_file(text in text_like(FITS)) {
        holds(inputs::fit_file(text.as_bytes()))?;
    }

    #[test]
    fn plans_load_or_are_refused(edits in edits()) {
        let valid = serde_json::to_string_pretty(&SweepPlan::preset("smoke").expect("a preset")).expect("serialises");
        holds(inputs::plan(edit(&valid, &edits).as_bytes()))?;
    }

    #[test]
    fn run_configs_load_and_validate_or_are_refused(edits in edits()) {
        let valid = serde_json::to_string_pretty(&RunConfig::preset("tiny").expect("a preset")).expect("serialises");
        holds(inputs::run_config(edit(&valid, &edits).as_bytes()))?;
    }

    #[test]
    fn tta_configs_load_and_validate_or_are_refused(edits in edits()) {
        let valid = serde_json::to_string_pretty(&TtaConfig::default()).expect("serialises");
        holds(inputs::tta_config(edit(&valid, &edits).as_bytes()))?;
    }

    #[test]
    fn dropped_files_become_domains_or_say_why(
        name in prop_oneof![Just("notes.txt".to_string()), any::<String>()],
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec(any::<u8>(), 4000..9000),
        ],
    ) {
        holds(inputs::dropped_text(&name, &bytes))?;
    }
}
