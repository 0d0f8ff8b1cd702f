//! The lab's state as a link: the panel, the device, the Train panel's preset, model, mixture,
//! steps and seed, and the Mixture lab's sweep and target, as `key=value&…` text. In the browser
//! it is the page's URL fragment, rewritten as the user changes things, and opening such a
//! link restores it; natively `sigmix --link '…'` opens the lab with it. A link may add `play`
//! to start the panel's run as it opens (the Mixture lab's sweep, the MoE or Train panel's
//! model, the Contrastive, Test-time adaptation or BYOL panel's runs): for a class, open this and
//! watch it train.

use sigmix::DeviceChoice;
use sigmix::nn::AttentionKind;
use sigmix::sweep::SWEEP_PRESETS;

use crate::lab::{Lab, Tab};

/// The link's name for each panel.
const TAB_KEYS: [(Tab, &str); 8] = [
    (Tab::Train, "train"),
    (Tab::Mixture, "mixture"),
    (Tab::Attention, "attention"),
    (Tab::Moe, "moe"),
    (Tab::Contrastive, "contrastive"),
    (Tab::Tta, "tta"),
    (Tab::Byol, "byol"),
    (Tab::Laws, "laws"),
];

/// The link's name for panel `tab`.
pub fn tab_key(tab: Tab) -> &'static str {
    TAB_KEYS.iter().find(|(t, _)| *t == tab).map_or("train", |(_, k)| k)
}

/// The lab's state as link text (no leading `#`).
pub fn encode(lab: &Lab) -> String {
    let tab = tab_key(lab.tab);
    let c = &lab.train.config;
    let m = &c.model;
    let attention = match m.attention {
        AttentionKind::Naive => "naive",
        AttentionKind::Softmax => "softmax",
        AttentionKind::Sigmoid => "sigmoid",
    };
    let mix: Vec<String> = c.mixture.iter().map(|w| trim(*w)).collect();
    [
        ("tab", tab.to_string()),
        ("device", lab.device.to_string()),
        ("preset", lab.train.preset.clone()),
        ("steps", c.steps.to_string()),
        ("batch", c.batch.to_string()),
        ("seed", c.seed.to_string()),
        ("width", m.d_model.to_string()),
        ("layers", m.n_layers.to_string()),
        ("heads", m.n_heads.to_string()),
        ("context", m.context.to_string()),
        ("attention", attention.to_string()),
        ("lr", trim(f64::from(c.schedule.lr))),
        ("mix", mix.join(",")),
        ("sweep", lab.mixture.preset.clone()),
        ("target", lab.mixture.target.clone()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={v}"))
    .collect::<Vec<_>>()
    .join("&")
}

/// A number without trailing zeros (0.25, not 0.250000).
fn trim(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Applies link text (with or without a leading `#`) to the lab: the preset first, then every
/// setting that parses. Says what it could not use (unknown keys, bad values, a configuration
/// the engine refuses), having applied the rest.
pub fn apply(lab: &mut Lab, link: &str) -> Result<(), String> {
    let pairs: Vec<(&str, &str)> = link
        .trim_start_matches('#')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let mut problems = Vec::new();
    if let Some((_, preset)) = pairs.iter().find(|(k, _)| *k == "preset") {
        if sigmix::train::RunConfig::preset(preset).is_ok() {
            lab.train.load_preset(preset);
        } else {
            problems.push(format!("preset `{preset}` is not one of tiny, smoke, small, moe-tiny"));
        }
    }
    let before = lab.train.config.clone();
    for (key, value) in pairs {
        if let Err(e) = set(lab, key, value) {
            problems.push(e);
        }
    }
    if let Err(e) = lab.train.config.validate() {
        problems.push(format!("the model settings were not used: {e}"));
        lab.train.config = before;
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("this link has {}", problems.join("; "))) }
}

fn set(lab: &mut Lab, key: &str, value: &str) -> Result<(), String> {
    let number = |v: &str| v.parse::<usize>().map_err(|_| format!("{key}={v} (expected a whole number)"));
    let c = &mut lab.train.config;
    match key {
        "tab" => {
            lab.tab = TAB_KEYS.iter().find(|(_, k)| *k == value).map(|(t, _)| *t).ok_or_else(|| {
                format!("tab={value} (expected one of train, mixture, attention, moe, contrastive, laws)")
            })?;
        }
        "device" => {
            let d: DeviceChoice = value.parse().map_err(|e: sigmix::Error| e.to_string())?;
            lab.set_device(d);
        }
        "preset" => {}
        // Not a setting but a request: start the shown panel's run as the lab opens.
        "play" => lab.play_on_open = true,
        "steps" => c.steps = number(value)?,
        "batch" => c.batch = number(value)?,
        "seed" => c.seed = number(value)? as u64,
        "width" => c.model.d_model = number(value)?,
        "layers" => c.model.n_layers = number(value)?,
        "heads" => c.model.n_heads = number(value)?,
        "context" => c.model.context = number(value)?,
        "attention" => {
            c.model.attention = match value {
                "softmax" => AttentionKind::Softmax,
                "sigmoid" => AttentionKind::Sigmoid,
                "naive" => AttentionKind::Naive,
                _ => return Err(format!("attention={value} (expected softmax, sigmoid or naive)")),
            }
        }
        "lr" => {
            c.schedule.lr = value
                .parse::<f32>()
                .ok()
                .filter(|lr| lr.is_finite() && *lr > 0.0)
                .ok_or_else(|| format!("lr={value} (expected a positive number)"))?
        }
        "mix" => {
            let w: Result<Vec<f64>, _> = value.split(',').map(str::parse::<f64>).collect();
            match w {
                Ok(w) if w.len() == c.mixture.len() && w.iter().all(|x| x.is_finite() && *x >= 0.0) => c.mixture = w,
                _ => return Err(format!("mix={value} (expected {} weights ≥ 0, comma-separated)", c.mixture.len())),
            }
        }
        "sweep" => {
            if !SWEEP_PRESETS.iter().any(|(p, _)| *p == value) {
                return Err(format!("sweep={value} is not a sweep preset"));
            }
            if lab.mixture.preset != value {
                lab.mixture.preset = value.to_string();
                lab.mixture.path = format!("{}/{value}.jsonl", crate::jobs::LAB_DIR);
                lab.mixture.load();
            }
        }
        "target" => {
            let known = sigmix::sweep::sweep_targets(&lab.mixture.domains());
            if !known.iter().any(|t| t == value) {
                return Err(format!("target={value} (expected one of {})", known.join(", ")));
            }
            lab.mixture.target = value.to_string();
        }
        _ => return Err(format!("an unknown setting `{key}`")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_restores_what_it_was_made_from_and_names_what_it_could_not_use() {
        let mut lab = Lab::new(DeviceChoice::Cpu);
        apply(
            &mut lab,
            "#tab=mixture&preset=smoke&seed=7&width=64&heads=4&attention=sigmoid&mix=1,0,0.5,2&sweep=smoke",
        )
        .expect("a valid link applies");
        assert_eq!(lab.tab, Tab::Mixture);
        assert_eq!(lab.train.preset, "smoke");
        let c = &lab.train.config;
        assert_eq!((c.seed, c.model.d_model, c.model.n_heads), (7, 64, 4));
        assert_eq!(c.model.attention, AttentionKind::Sigmoid);
        assert_eq!(c.mixture, vec![1.0, 0.0, 0.5, 2.0]);
        assert_eq!(lab.mixture.preset, "smoke");
        assert!(!lab.play_on_open);
        apply(&mut lab, "play").expect("play applies");
        assert!(lab.play_on_open, "`play` asks the Train panel to start");

        let link = encode(&lab);
        assert!(!link.contains("play"), "a request, not a setting: links do not repeat it");
        let mut other = Lab::new(DeviceChoice::Cpu);
        apply(&mut other, &link).expect("its own link applies");
        assert_eq!(encode(&other), link, "a link round-trips");
        assert_eq!(other.train.config, lab.train.config);

        let err = apply(&mut other, "tab=nowhere&steps=-3&colour=blue&seed=9").expect_err("bad values are named");
        assert!(err.contains("tab=nowhere") && err.contains("steps=-3") && err.contains("`colour`"), "{err}");
        assert_eq!(other.train.config.seed, 9, "the good settings still apply");

        let err = apply(&mut other, "width=50&heads=4").expect_err("the engine refuses width 50 with 4 heads");
        assert!(err.contains("model settings"), "{err}");
        assert_eq!(other.train.config.model.d_model, 64, "a refused configuration is not kept");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: std::env::var("SIGMIX_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
            rng_seed: proptest::test_runner::RngSeed::Fixed(
                std::env::var("SIGMIX_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x0051_676d_6978),
            ),
            failure_persistence: None,
            ..Default::default()
        })]

        /// Any text in the address bar: no panic, what is refused is named, the rest applies,
        /// and the lab's own link of the result applies back to the same state.
        #[test]
        fn any_fragment_applies_or_names_what_it_could_not_use(
            link in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "(tab|device|preset|width|heads|layers|context|steps|batch|lr|seed|mix|attention|sweep|target|play|x)=[-0-9a-z.,%#&=]{0,12}(&[a-z]{1,8}=[-0-9a-z.,]{0,10}){0,4}",
            ]
        ) {
            let mut lab = Lab::new(DeviceChoice::Cpu);
            if let Err(e) = apply(&mut lab, &link) {
                proptest::prop_assert!(!e.is_empty());
            }
            let own = encode(&lab);
            let mut again = Lab::new(DeviceChoice::Cpu);
            proptest::prop_assert_eq!(apply(&mut again, &own), Ok(()));
            proptest::prop_assert_eq!(encode(&again), own);
        }
    }
}
