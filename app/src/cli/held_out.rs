//! The table every sweep report prints for a law's held-out runs: prediction, measurement and
//! signed error per run, under a title carrying the mean relative error.

use sigmix::sweep::HeldOutRun;

/// Prints `held` under `title` (with `mre`), run ids padded to `id_width`.
pub fn print(title: &str, held: &[HeldOutRun], mre: f64, id_width: usize) {
    println!("\n{title}: held-out MRE {:.2}%", 100.0 * mre);
    println!("{:<id_width$} {:>9} {:>9} {:>7}", "run", "predicted", "measured", "error");
    for h in held {
        println!(
            "{:<id_width$} {:>9.4} {:>9.4} {:>6.2}%",
            h.id,
            h.predicted,
            h.measured,
            100.0 * (h.predicted - h.measured) / h.measured
        );
    }
}
