//! Prints what a distillation sweep found: the teachers, both laws' held-out predictions of the
//! largest student, what the teachers did measured, and the compute up to which distilling
//! beats supervised training by the laws.

use sigmix::sweep::DistillReport;

/// The report, as tables.
pub fn print(r: &DistillReport) {
    println!("\nteachers:");
    for t in &r.teachers {
        println!("  {:<22} N {:>8.0}  D {:>8.0}  L_T {:.4}", t.id, t.n, t.d, t.loss);
    }
    println!(
        "\nsupervised law E + (A/N^α + B/D^β)^γ fitted on {} runs below the largest student (train MRE {:.2}%)",
        r.supervised.rows,
        100.0 * r.supervised.train_mre
    );
    super::held_out::print("supervised, largest student", &r.supervised_held_out, r.supervised_mre, 30);
    println!(
        "\ndistillation law (Eq. 8) fitted on {} distilled runs below the largest student (train MRE {:.2}%)",
        r.distill.rows,
        100.0 * r.distill.train_mre
    );
    super::held_out::print("distilled, largest student", &r.distill_held_out, r.distill_mre, 30);
    let helped = r.measured_gain.iter().filter(|(_, g)| *g < 0.0).count();
    println!(
        "\nmeasured at equal tokens: the teacher lowered the student's loss in {helped} of {} runs",
        r.measured_gain.len()
    );
    for (id, g) in &r.measured_gain {
        println!("  {id:<30} {g:+.4} nats vs supervised");
    }
    println!("\nat equal training compute (teacher's forward counted, its training not), by the laws:");
    for c in &r.crossovers {
        println!("  student {:<7} from {:<22} {}", c.student, c.teacher, c.verdict());
    }
}
