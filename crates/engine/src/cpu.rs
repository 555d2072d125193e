//! Which CPU kernels run the model: the CPU's SIMD extensions (detected at run time), the
//! llama.cpp CPU backend this build carries, and the CPU llama.cpp reports. Reported in the
//! start log, `/v1/models` meta, `/metrics`, `/status`, `edgellm bench` and `generate`.
//!
//! On aarch64 the build carries llama.cpp's CPU backend as run-time variants (ggml's
//! `GGML_BACKEND_DL` + `GGML_CPU_ALL_VARIANTS`: armv8.0 ... armv9.2 libraries,
//! `libggml-cpu-<variant>.so`); [`load_variant`] has ggml load the best one for the CPU
//! before the backend starts, so one build runs the Pi 4's armv8.0 kernels and the Pi 5's
//! and Orin's dot-product ones. The x86-64 build keeps one built-in AVX2/FMA backend.

pub use edgellm_backend::CpuBackend;

use std::path::{Path, PathBuf};

/// Whether this build loads its CPU backend from run-time variants.
pub const VARIANTS: bool = cfg!(target_arch = "aarch64");

/// The kernels this build carries (before [`detect`] knows the variant).
pub const BUILT_IN: &str = if VARIANTS {
    "llama.cpp CPU, run-time variants"
} else if cfg!(target_arch = "x86_64") {
    "llama.cpp CPU, built in: x86-64 AVX2/FMA"
} else {
    "llama.cpp CPU, built in"
};

/// The CPU's SIMD extensions that matter to llama.cpp's kernels.
pub fn features() -> Vec<String> {
    #[allow(unused_mut)]
    let mut found: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    found.extend(x86_extensions().iter().filter(|e| e.1).map(|e| e.0));
    #[cfg(target_arch = "aarch64")]
    {
        let all = [
            ("neon", std::arch::is_aarch64_feature_detected!("neon")),
            (
                "dotprod",
                std::arch::is_aarch64_feature_detected!("dotprod"),
            ),
            ("fp16", std::arch::is_aarch64_feature_detected!("fp16")),
            ("i8mm", std::arch::is_aarch64_feature_detected!("i8mm")),
            ("sve", std::arch::is_aarch64_feature_detected!("sve")),
        ];
        found.extend(all.iter().filter(|f| f.1).map(|f| f.0));
    }
    found.into_iter().map(String::from).collect()
}

/// After the llama.cpp backend started: everything, with the CPU's name from llama.cpp.
pub fn detect() -> CpuBackend {
    let cpu = llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .find(|d| matches!(d.device_type, llama_cpp_2::LlamaBackendDeviceType::Cpu))
        .map(|d| d.description.trim().to_string())
        .unwrap_or_default();
    let backend = match loaded_variant() {
        Some(variant) => format!("llama.cpp CPU, run-time variant {variant}"),
        None => BUILT_IN.to_string(),
    };
    CpuBackend {
        arch: std::env::consts::ARCH.to_string(),
        backend,
        features: features(),
        cpu,
    }
}

/// Where the variants are looked for: `given`, else next to the executable, then
/// `../lib/edgellm` from it (the packaged layout), then `/usr/lib/edgellm`.
pub fn variant_dirs(given: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = given {
        return vec![dir.to_path_buf()];
    }
    let mut dirs = Vec::new();
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(bin.clone());
        dirs.push(bin.join("../lib/edgellm"));
    }
    dirs.push(PathBuf::from("/usr/lib/edgellm"));
    dirs
}

fn has_variants(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libggml-cpu-") && name.ends_with(".so")
        })
    })
}

/// Have ggml load the best CPU variant for this CPU (aarch64 builds); elsewhere check that
/// the CPU has what the built-in kernels were compiled for.
/// A missing or unloadable backend is a one-line error that says where it looked.
pub fn load_variant(given: Option<&Path>) -> Result<(), String> {
    if !VARIANTS {
        return check_built_in();
    }
    let dirs = variant_dirs(given);
    let Some(dir) = dirs.iter().find(|d| has_variants(d)) else {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(format!(
            "no llama.cpp CPU backend (libggml-cpu-*.so) in {}; install the backend libraries or set --backend-dir",
            looked.join(", ")
        ));
    };
    if dir.to_str().is_none() {
        return Err(format!(
            "the backend directory {} is not valid UTF-8",
            dir.display()
        ));
    }
    #[cfg(target_arch = "aarch64")]
    llama_cpp_2::llama_backend::load_backends_from_path(dir);
    match loaded_variant() {
        Some(variant) => {
            tracing::info!(variant = %variant, dir = %dir.display(), "llama.cpp CPU backend variant loaded");
            Ok(())
        }
        None => Err(format!(
            "none of the llama.cpp CPU backends in {} could be loaded on this CPU",
            dir.display()
        )),
    }
}

/// A build with one built-in backend runs only on CPUs with the extensions it was compiled
/// for: say so in one line instead of dying of SIGILL in the first matrix multiplication.
fn check_built_in() -> Result<(), String> {
    let missing = missing_built_in_features();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "this build's llama.cpp kernels need a CPU with {}; this CPU lacks {} (build with llama-cpp-2's dynamic-backends feature to choose kernels at run time)",
        BUILT_IN_NEEDS,
        missing.join(", ")
    ))
}

/// What the x86-64 build's kernels were compiled for (x86-64-v3: `GGML_AVX2` and friends).
const BUILT_IN_NEEDS: &str = "SSE4.2, AVX, AVX2, FMA, F16C and BMI2 (x86-64-v3)";

/// The x86 extensions llama.cpp's kernels use: (name, this CPU has it, the built-in
/// kernels need it).
#[cfg(target_arch = "x86_64")]
fn x86_extensions() -> [(&'static str, bool, bool); 7] {
    use std::arch::is_x86_feature_detected as has;
    [
        ("sse4.2", has!("sse4.2"), true),
        ("avx", has!("avx"), true),
        ("avx2", has!("avx2"), true),
        ("fma", has!("fma"), true),
        ("f16c", has!("f16c"), true),
        ("bmi2", has!("bmi2"), true),
        ("avx512f", has!("avx512f"), false),
    ]
}

#[cfg(target_arch = "x86_64")]
fn missing_built_in_features() -> Vec<&'static str> {
    let all = x86_extensions();
    all.iter().filter(|e| e.2 && !e.1).map(|e| e.0).collect()
}

#[cfg(not(target_arch = "x86_64"))]
fn missing_built_in_features() -> Vec<&'static str> {
    Vec::new()
}

/// The CPU variant ggml loaded (`armv8.2_2`), from the libraries mapped into this process.
pub fn loaded_variant() -> Option<String> {
    if !VARIANTS {
        return None;
    }
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    variant_in_maps(&maps)
}

fn variant_in_maps(maps: &str) -> Option<String> {
    maps.lines()
        .filter_map(|l| l.rsplit('/').next())
        .find_map(|file| file.strip_prefix("libggml-cpu-")?.strip_suffix(".so"))
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loaded_variant_is_read_from_the_mapped_libraries() {
        let maps = "ffff8000-ffff9000 r-xp 00000000 08:01 1234 /usr/lib/edgellm/libggml-base.so.0\n\
                    ffffa000-ffffb000 r-xp 00000000 08:01 1235 /usr/lib/edgellm/libggml-cpu-armv8.2_2.so\n";
        assert_eq!(variant_in_maps(maps).as_deref(), Some("armv8.2_2"));
        assert_eq!(
            variant_in_maps("ffff8000-ffff9000 r-xp 0 0 0 /usr/lib/libc.so.6\n"),
            None
        );
    }

    #[test]
    fn a_given_directory_is_the_only_place_looked() {
        assert_eq!(
            variant_dirs(Some(Path::new("/opt/x"))),
            vec![PathBuf::from("/opt/x")]
        );
        let defaults = variant_dirs(None);
        assert_eq!(defaults.last().unwrap(), &PathBuf::from("/usr/lib/edgellm"));
        assert!(defaults.len() == 3, "{defaults:?}");
    }
}
