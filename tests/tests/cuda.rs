//! The CUDA path on a machine without a GPU: every kernel variant compiles with NVRTC for real
//! architectures (so ptxas checks the tensor-core assembly too), bad requests are refused with
//! one clear error, and opening a device without a driver is an error rather than a crash.
//! The numerical checks need a card: `sigmix selftest --cuda` (run by bench/gpu.sh).
//!
//! NVRTC comes from the CUDA toolkit or the `nvidia-cuda-nvrtc-cu12` wheel (CI installs it). Set
//! SIGMIX_REQUIRE_NVRTC=1 to make its absence a failure instead of a skipped compile test.

use sigmix::cuda::compile::{Precision, compile, nvrtc_version};
use sigmix::cuda::{Cuda, check};

fn nvrtc_or_skip() -> bool {
    match nvrtc_version() {
        Ok((major, minor)) => {
            eprintln!("NVRTC {major}.{minor}");
            true
        }
        Err(e) if std::env::var("SIGMIX_REQUIRE_NVRTC").is_ok_and(|v| v == "1") => panic!("{e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

fn is_cubin(bytes: &[u8]) -> bool {
    bytes.len() > 1024 && bytes.starts_with(b"\x7fELF")
}

#[test]
fn every_variant_compiles_for_hopper_and_ampere() {
    if !nvrtc_or_skip() {
        return;
    }
    for precision in Precision::ALL {
        let mut dims = vec![16, 48, 64, 128];
        if precision == Precision::F32 {
            dims.push(36);
        }
        for d in dims {
            let cubin = compile(precision, d, 90).unwrap_or_else(|e| panic!("{precision:?} d={d} sm_90: {e}"));
            assert!(is_cubin(&cubin), "{precision:?} d={d}: not a CUBIN ({} bytes)", cubin.len());
        }
        let cubin = compile(precision, 64, 80).unwrap_or_else(|e| panic!("{precision:?} sm_80: {e}"));
        assert!(is_cubin(&cubin));
    }
}

#[test]
fn the_selftest_shapes_compile() {
    if !nvrtc_or_skip() {
        return;
    }
    for precision in Precision::ALL {
        for case in check::cases(precision) {
            compile(precision, case.shape[3], 90).unwrap_or_else(|e| panic!("{precision:?} {case:?}: {e}"));
        }
    }
}

#[test]
fn bad_requests_are_refused_clearly() {
    let e = compile(Precision::Bf16, 40, 90).expect_err("d = 40 is not a multiple of 16").to_string();
    assert!(e.contains("head dimension 40"), "{e}");
    let e = compile(Precision::F32, 130, 90).expect_err("d = 130 is too large").to_string();
    assert!(e.contains("head dimension 130"), "{e}");
    let e = compile(Precision::Bf16, 64, 75).expect_err("no bf16 MMA before sm_80").to_string();
    assert!(e.contains("8.0"), "{e}");
}

#[test]
fn opening_without_a_driver_is_an_error_not_a_crash() {
    match Cuda::open(0) {
        Ok(cuda) => eprintln!("a CUDA device is present: {}", cuda.label()),
        Err(e) => {
            let e = e.to_string();
            assert!(e.starts_with("CUDA: "), "{e}");
            assert!(e.contains("libcuda") || e.contains("libnvrtc") || e.contains("device"), "{e}");
        }
    }
}

/// The kernels themselves, run on the CPU under tests/cuda_emu (g++, C++20, AddressSanitizer):
/// every precision, both kinds, every selftest case against the f64 reference.
mod emulated {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use sigmix::cuda::check::{self, Problem};
    use sigmix::cuda::compile::Precision;
    use sigmix::cuda::shared_bytes;
    use sigmix::kernels::attention::AttnKind;
    use sigmix::rng::Rng;

    fn build(dir: &Path, precision: Precision, d: usize) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bin = dir.join(format!("attention_{}_d{d}", precision.name()));
        let mut cmd = Command::new("g++");
        cmd.args(["-std=c++20", "-O1", "-g", "-pthread", "-fsanitize=address", "-fno-omit-frame-pointer"])
            .arg(format!("-DHEAD_DIM={d}"))
            .arg("-I")
            .arg(root.join("cuda_emu"))
            .arg("-I")
            .arg(root.join("../engine/src/cuda/kernels"));
        match precision {
            Precision::F32 => cmd.arg("-DSIGMIX_F32"),
            Precision::F16 => cmd.arg("-DELEM_F16"),
            Precision::Bf16 => &mut cmd,
        };
        let out = cmd.arg(root.join("cuda_emu/harness.cpp")).arg("-o").arg(&bin).output().expect("g++ runs");
        assert!(out.status.success(), "g++ failed:\n{}", String::from_utf8_lossy(&out.stderr));
        bin
    }

    fn run(dir: &Path, bin: &Path, problem: &Problem) -> (Vec<f32>, Vec<f32>) {
        let [batch, heads, n, d] = problem.case.shape;
        let entries = ["sigmoid_forward", "sigmoid_backward_dq", "sigmoid_backward_dkdv"];
        let mut input = Vec::new();
        let kind = (problem.kind == AttnKind::Softmax) as usize;
        let ints = [batch, heads, n, d, kind, problem.case.causal as usize, problem.case.alibi as usize]
            .into_iter()
            .chain(entries.map(|e| shared_bytes(problem.precision, d, e)));
        for v in ints {
            input.extend((v as i32).to_le_bytes());
        }
        let bias = if problem.kind == AttnKind::Sigmoid { -(n as f32).ln() } else { 0.0 };
        input.extend(bias.to_le_bytes());
        for v in problem.qkv.iter().chain(&problem.dout) {
            input.extend(v.to_le_bytes());
        }
        let (inp, outp) = (dir.join("input.bin"), dir.join("output.bin"));
        std::fs::write(&inp, input).expect("write input");
        let out = Command::new(bin).arg(&inp).arg(&outp).output().expect("emulator runs");
        assert!(out.status.success(), "{bin:?} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        let floats: Vec<f32> = std::fs::read(&outp)
            .expect("read output")
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let one = batch * heads * n * d;
        assert_eq!(floats.len(), 4 * one);
        (floats[..one].to_vec(), floats[one..].to_vec())
    }

    fn check_precision(precision: Precision) {
        let dir = std::env::temp_dir().join(format!("sigmix-cuda-emu-{}-{}", precision.name(), std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut rng = Rng::new(11);
        let mut bins = std::collections::HashMap::new();
        for case in check::cases(precision) {
            let d = case.shape[3];
            let bin = bins.entry(d).or_insert_with(|| build(&dir, precision, d)).clone();
            for kind in [AttnKind::Sigmoid, AttnKind::Softmax] {
                let problem = Problem::random(&mut rng, precision, kind, case);
                let (o, dqkv) = run(&dir, &bin, &problem);
                for c in problem.checks(&o, &dqkv) {
                    eprintln!("{:<34} {:<24} {:.2e}", c.kernel, c.shape, c.rel_err);
                    assert!(
                        c.passed(),
                        "{} {}: relative error {:.3e} over {:.0e}",
                        c.kernel,
                        c.shape,
                        c.rel_err,
                        c.tolerance
                    );
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bf16_tensor_core_kernels_match_the_reference() {
        check_precision(Precision::Bf16);
    }

    #[test]
    fn f16_tensor_core_kernels_match_the_reference() {
        check_precision(Precision::F16);
    }

    #[test]
    fn f32_kernels_match_the_reference() {
        check_precision(Precision::F32);
    }
}

#[test]
fn the_gpu_benchmark_script_fails_loudly_without_a_gpu() {
    let has_smi = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("nvidia-smi").exists()));
    if has_smi {
        eprintln!("skipped: this machine has nvidia-smi");
        return;
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/gpu.sh");
    let out = std::process::Command::new("bash").arg(script).output().expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no NVIDIA GPU here") && stderr.contains("nothing was run"), "{stderr}");
}
