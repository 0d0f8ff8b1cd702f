//! Property tests of every loader and parser: arbitrary text and bytes, and valid files with
//! random edits (characters deleted, inserted, replaced), never panic; what is refused is
//! refused with an error that names the file. 256 cases each from a fixed seed in `cargo test`
//! (`sigmix_tests::proptest_config`: SIGMIX_FUZZ_CASES and SIGMIX_FUZZ_SEED for longer runs).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use sigmix::data::TextDomain;
use sigmix::laws::{RunTable, TokensFrom, read_fits};
use sigmix::sweep::{SweepPlan, parse_rows};
use sigmix::train::{RunConfig, read_json};
use sigmix::tta::TtaConfig;

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

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigmix-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Writes `text` to a scratch file and loads it with `load`; an error must name the file.
fn through_file<T>(name: &str, text: &str, load: impl Fn(&Path) -> sigmix::Result<T>) -> Result<(), TestCaseError> {
    let path = scratch(name);
    std::fs::write(&path, text).expect("writes");
    if let Err(e) = load(&path) {
        let msg = e.to_string();
        prop_assert!(msg.contains(name) || !msg.contains("line"), "an error about a line names the file: {msg}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn run_tables_parse_or_name_the_file(text in text_like(RUN_TABLE_CSV)) {
        for name in ["runs.csv", "runs.jsonl"] {
            match RunTable::parse(Path::new(name), &text) {
                Ok(table) => {
                    // What the fit reads next must not panic on whatever the cells hold.
                    let h = table.weight_columns("weight_");
                    for target in ["a_loss", "b_loss", "nothing"] {
                        let _ = table.observations(target, "model_size", TokensFrom::Column("n_tokens"), &h);
                        let _ = table.observations(target, "model_size", TokensFrom::Flops("n_tokens"), &h);
                    }
                }
                Err(e) => prop_assert!(e.to_string().contains(name), "{e}"),
            }
        }
    }

    #[test]
    fn sweep_files_read_or_name_the_line(text in text_like(SWEEP_ROWS)) {
        match parse_rows(Path::new("runs.jsonl"), &text) {
            Ok(read) => prop_assert!(read.complete_len as usize <= text.len()),
            Err(e) => prop_assert!(e.to_string().contains("runs.jsonl"), "{e}"),
        }
    }

    #[test]
    fn fit_files_load_or_name_the_file(text in text_like(FITS)) {
        through_file("fits.json", &text, read_fits)?;
    }

    #[test]
    fn plans_load_or_are_refused(edits in edits()) {
        let valid = serde_json::to_string_pretty(&SweepPlan::preset("smoke").expect("a preset")).expect("serialises");
        through_file("plan.json", &edit(&valid, &edits), SweepPlan::from_file)?;
    }

    #[test]
    fn run_configs_load_and_validate_or_are_refused(edits in edits()) {
        let valid = serde_json::to_string_pretty(&RunConfig::preset("tiny").expect("a preset")).expect("serialises");
        through_file("run.json", &edit(&valid, &edits), |p| read_json::<RunConfig>(p)?.validate())?;
    }

    #[test]
    fn tta_configs_load_and_validate_or_are_refused(edits in edits()) {
        let valid = serde_json::to_string_pretty(&TtaConfig::default()).expect("serialises");
        through_file("tta.json", &edit(&valid, &edits), |p| read_json::<TtaConfig>(p)?.validate())?;
    }

    #[test]
    fn dropped_files_become_domains_or_say_why(
        name in prop_oneof![Just("notes.txt".to_string()), any::<String>()],
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec(any::<u8>(), 4000..9000),
        ],
    ) {
        match TextDomain::new(&name, bytes.clone()) {
            Ok(t) => {
                prop_assert!(t.len() == bytes.len() && !t.name().is_empty());
                let (train, held_out) = t.split();
                prop_assert_eq!(train.len() + held_out.len(), bytes.len());
            }
            Err(e) => prop_assert!(e.to_string().contains(&format!("`{name}`")), "{e}"),
        }
    }
}
