//! The Rust `Pod` mirrors must match the WGSL structs byte for byte: naga lays out the shader source and
//! every field offset and struct size is compared.

use splatrack::gpu::gpu_data::mirror_layouts;
use splatrack::gpu::kernel::{COMMON_WGSL, SPLAT_BATCH_WGSL};

fn shader(file: &str) -> String {
    let path = format!("{}/shaders/{file}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match file {
        "common.wgsl" => source,
        "raster.wgsl" => format!("{COMMON_WGSL}\n{SPLAT_BATCH_WGSL}\n{source}"),
        _ => format!("{COMMON_WGSL}\n{source}"),
    }
}

#[test]
fn pod_mirrors_match_wgsl_layouts() {
    let gui = ("to_texture.wgsl", splatrack::gui::texture::view_params_layout());
    for (file, mirror) in mirror_layouts().into_iter().chain([gui]) {
        let module = naga::front::wgsl::parse_str(&shader(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let (handle, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(mirror.wgsl_name))
            .unwrap_or_else(|| panic!("struct {} not found in {file}", mirror.wgsl_name));
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("{} is not a struct", mirror.wgsl_name)
        };
        assert_eq!(*span as usize, mirror.size, "{}: size", mirror.wgsl_name);
        assert_eq!(layouter[handle].size as usize, mirror.size, "{}: layout size", mirror.wgsl_name);
        let wgsl: Vec<(String, usize)> =
            members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize)).collect();
        let rust: Vec<(String, usize)> = mirror.fields.iter().map(|(n, o)| (n.to_string(), *o)).collect();
        assert_eq!(wgsl, rust, "{}: field names and offsets", mirror.wgsl_name);
    }
}

#[test]
fn every_kernel_validates() {
    for file in [
        "project.wgsl",
        "scan.wgsl",
        "sort.wgsl",
        "tiles.wgsl",
        "raster.wgsl",
        "project_bwd.wgsl",
        "loss.wgsl",
        "adam.wgsl",
        "pose_step.wgsl",
        "to_texture.wgsl",
    ] {
        let module = naga::front::wgsl::parse_str(&shader(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{file} needs no optional capability, but: {e:?}"));
    }
}
