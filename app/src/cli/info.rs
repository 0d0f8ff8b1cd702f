//! `sigmix info`: which adapter, which limits.

use sigmix::{Device, DeviceChoice};

/// Options of `sigmix info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the adapter, backend, limits and features.
pub fn run(args: Args, choice: DeviceChoice) -> sigmix::Result<()> {
    let device = Device::open(choice)?;
    let info = device.info();
    let gpu = match &device {
        Device::Gpu(g) => g.clone(),
        Device::Cpu(c) => {
            if args.json {
                let v = serde_json::json!({ "device": info, "threads": c.threads() });
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                println!("device    {} (native CPU backend, chosen by --device {choice})", info.name);
                println!("kernels   {}", info.driver);
                println!("          GPU adapters: `sigmix info --device gpu`");
            }
            return Ok(());
        }
    };
    let l = gpu.limits();
    if args.json {
        let v = serde_json::json!({
            "adapter": info,
            "software": gpu.is_software(),
            "limits": {
                "max_buffer_size": l.max_buffer_size,
                "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
                "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
                "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
                "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
                "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
            },
            "features": format!("{:?}", gpu.features()),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    println!("adapter   {}", info.name);
    println!("backend   {}", info.backend);
    println!("type      {}{}", info.device_type, if gpu.is_software() { " (software: correct, slow)" } else { "" });
    println!("driver    {}", info.driver);
    println!(
        "limits    max buffer {} MiB, max storage binding {} MiB",
        l.max_buffer_size >> 20,
        l.max_storage_buffer_binding_size >> 20
    );
    println!(
        "          workgroup memory {} KiB, {} invocations per workgroup, {} workgroups per dimension",
        l.max_compute_workgroup_storage_size >> 10,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroups_per_dimension
    );
    println!("features  {:?}", gpu.features());
    Ok(())
}
