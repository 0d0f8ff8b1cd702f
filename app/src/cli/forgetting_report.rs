//! Prints what a forgetting sweep found: the pretrained models, the forgetting and finetuning
//! laws' held-out predictions of the largest size, forgetting and target loss per injected
//! fraction, and whether 1% injection stops most forgetting here.

use sigmix::sweep::{ForgettingFit, ForgettingReport};

fn forgetting_fit(form: &str, f: &ForgettingFit) {
    println!(
        "\nforgetting law [I], {form}, fitted on {} runs below the largest size (train MRE {:.2}%)",
        f.law.rows,
        100.0 * f.law.train_mre
    );
    super::held_out::print("pretraining loss after finetuning, largest size", &f.held_out, f.mre, 22);
    let by_p: Vec<String> =
        f.mre_by_injection.iter().map(|(p, e)| format!("{}%: {:.2}%", 100.0 * p, 100.0 * e)).collect();
    println!("  held-out MRE per injected fraction: {}", by_p.join(", "));
}

/// The report, as tables.
pub fn print(r: &ForgettingReport) {
    println!("\npretrained on the four domains (L_pt: their mean loss; {} never seen):", r.target);
    for p in &r.pretrained {
        println!(
            "  {:<22} N {:>8.0}  D {:>8.0}  L_pt {:.4}  {} {:.4}",
            p.id, p.n, p.d, p.pretrain_loss, r.target, p.target_loss
        );
    }
    println!("\nfinetuned on {}: per injected fraction p (means over sizes and budgets)", r.target);
    println!("{:>6} {:>5} {:>10} {:>11} {:>10} {:>10}", "p", "runs", "L_pt rise", "progress", "prevented", "target");
    for s in &r.by_injection {
        println!(
            "{:>5.1}% {:>5} {:>+10.4} {:>10.1}% {:>9.0}% {:>10.4}",
            100.0 * s.p,
            s.runs,
            s.rise,
            100.0 * s.relative,
            100.0 * s.prevented,
            s.target_loss
        );
    }
    println!("  (progress: share of pretraining progress lost [I], ln V standing for the random initialisation)");
    println!("\n{}", r.takeaway());
    for (form, f) in [
        ("docs/papers.md's form L_pt(before) + A'·D^β' / ((1 + B'p)·N)^α'", &r.forgetting),
        ("the injected-tokens form L_pt(before) + A'·D^β' / (N^α'·(1 + B'·(p·D)^δ))", &r.forgetting_tokens),
    ] {
        forgetting_fit(form, f);
    }
    println!(
        "\nfinetuning law [I] E + A/N^α + B/((1 − p)·D_ft)^β fitted on {} runs (train MRE {:.2}%)",
        r.target_law.rows,
        100.0 * r.target_law.train_mre
    );
    super::held_out::print(
        &format!("{} loss after finetuning, largest size", r.target),
        &r.target_held_out,
        r.target_mre,
        22,
    );
}
