//! Every WGSL file is parsed, validated and translated by naga to SPIR-V (Vulkan), MSL
//! (Metal) and HLSL (DX12), entry point by entry point, so a portability error fails here
//! on a machine without those GPUs; every file is registered; and the selftest dispatches
//! every entry point.

use naga::back::{hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn translate(name: &str, source: &str) -> Result<usize, String> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| format!("{name}.wgsl: parse: {}", e.emit_to_string(source)))?;
    // Portable capabilities only: what every WebGPU implementation must accept.
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| format!("{name}.wgsl: validate: {}", e.emit_to_string(source)))?;
    let constants = naga::back::PipelineConstants::default();
    for ep in &module.entry_points {
        let (module, info) =
            naga::back::pipeline_constants::process_overrides(&module, &info, Some((ep.stage, &ep.name)), &constants)
                .map_err(|e| format!("{name}::{}: overrides: {e}", ep.name))?;
        let spv_pipe = spv::PipelineOptions { shader_stage: ep.stage, entry_point: ep.name.clone() };
        spv::write_vec(&module, &info, &spv::Options::default(), Some(&spv_pipe))
            .map_err(|e| format!("{name}::{}: SPIR-V: {e}", ep.name))?;
        let msl_pipe = msl::PipelineOptions { entry_point: Some((ep.stage, ep.name.clone())), ..Default::default() };
        msl::write_string(&module, &info, &msl::Options::default(), &msl_pipe)
            .map_err(|e| format!("{name}::{}: MSL: {e}", ep.name))?;
        let hlsl_pipe = hlsl::PipelineOptions { entry_point: Some((ep.stage, ep.name.clone())) };
        let options = hlsl::Options::default();
        let mut out = String::new();
        hlsl::Writer::new(&mut out, &options, &hlsl_pipe)
            .write(&module, &info, None)
            .map_err(|e| format!("{name}::{}: HLSL: {e}", ep.name))?;
    }
    Ok(module.entry_points.len())
}

#[test]
fn every_shader_translates_to_spirv_msl_and_hlsl() {
    let mut failures = Vec::new();
    let mut entries = 0;
    for (name, source) in sigmix::gpu::shaders::ALL {
        match translate(name, source) {
            Ok(n) => entries += n,
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(entries >= 20, "expected every kernel's entry point, found {entries}");
}

#[test]
fn every_shader_file_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shaders");
    for entry in std::fs::read_dir(&dir).expect("shaders/ exists") {
        let path = entry.expect("readable").path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            assert!(sigmix::gpu::shaders::source(stem).is_some(), "{} is not in gpu::shaders::ALL", path.display());
        }
    }
}

/// The kernel checklist's last line, enforced: the selftest (what `sigmix selftest` and the
/// browser run) dispatches every entry point of every shader, so none is left without a check
/// against the f64 reference.
#[test]
fn the_selftest_dispatches_every_entry_point() {
    // A device of its own: its pipeline cache holds exactly what the selftest built.
    let gpu = sigmix::Gpu::new().expect("an adapter");
    let device = sigmix::Device::Gpu(gpu.clone());
    let checks = sigmix::selftest::run_all(&device, 1).expect("the selftest runs");
    assert!(checks.iter().all(|c| c.passed()), "a selftest row failed");
    let built = gpu.built_entry_points();
    let mut missing = Vec::new();
    for (name, source) in sigmix::gpu::shaders::ALL {
        let module = naga::front::wgsl::parse_str(source).expect("parses (checked above)");
        for ep in &module.entry_points {
            if !built.iter().any(|(s, e)| s == name && *e == ep.name) {
                missing.push(format!("{name}::{}", ep.name));
            }
        }
    }
    assert!(missing.is_empty(), "entry points the selftest never dispatches: {}", missing.join(", "));
}

#[test]
fn a_broken_shader_is_caught() {
    let err = translate("broken", "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }").unwrap_err();
    assert!(err.contains("broken.wgsl"), "{err}");
}
