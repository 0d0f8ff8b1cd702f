//! Prints what an MoE sparsity sweep found: each IsoFLOP slice's losses by sparsity and its
//! measured best, the MoE law's held-out predictions of the largest size, and the law's
//! optimal sparsity per compute budget.

use sigmix::sweep::MoeReport;

/// The report, as tables.
pub fn print(r: &MoeReport) {
    println!("\nIsoFLOP slices (top-{} routing; mean held-out loss by sparsity S = (E − K)/E):", r.top_k);
    let mut sparsities: Vec<f64> = r.runs.iter().map(|x| x.sparsity).collect();
    sparsities.sort_by(f64::total_cmp);
    sparsities.dedup();
    let head: Vec<String> = sparsities.iter().map(|s| format!("S={s:.3}")).collect();
    println!("{:<22} {:>9}  {}  best S", "slice", "FLOPs", head.iter().map(|h| format!("{h:>8}")).collect::<String>());
    for s in &r.slices {
        let cells: String = sparsities
            .iter()
            .map(|x| match s.points.iter().find(|p| (p[0] - x).abs() < 1e-9) {
                Some(p) => format!("{:>8.4}", p[1]),
                None => format!("{:>8}", "–"),
            })
            .collect();
        let mark = if s.held_out { " (held out)" } else { "" };
        println!("{:<22} {:>9.2e}  {cells}  {:.3}{mark}", s.label, s.flops, s.best_sparsity);
    }
    println!(
        "\nMoE law a/N^α + b/D^β + c·(1 − S)^λ + d/((1 − S)^δ·N^γ) + e fitted on {} runs below the largest size (train MRE {:.2}%)",
        r.law.rows,
        100.0 * r.law.train_mre
    );
    super::held_out::print("largest size", &r.held_out, r.mre, 22);
    println!("\noptimal sparsity per compute budget, by the fitted law:");
    println!(
        "{:>9} {:>6} {:>7} {:>10} {:>10} {:>10} {:>8} {:>10} {:>8}",
        "FLOPs", "S*", "width", "N total", "N active", "D", "loss", "dense N", "dense"
    );
    for o in &r.optimal {
        println!(
            "{:>9.2e} {:>6.3} {:>7.1} {:>10.0} {:>10.0} {:>10.0} {:>8.4} {:>10.0} {:>8.4}",
            o.flops, o.sparsity, o.width, o.n_total, o.n_active, o.tokens, o.loss, o.dense_n, o.dense_loss
        );
    }
    println!("  (dense: the best dense model at the same compute, by the same law)");
}
