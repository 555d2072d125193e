//! Which CPU kernels run the model: the CPU's SIMD extensions (detected at run time), the
//! llama.cpp CPU backend this build carries, and the CPU llama.cpp reports. Reported in the
//! start log, `/v1/models` meta, `/metrics`, `/status`, `edgellm bench` and `generate`.
//!
//! llama-cpp-sys-2 builds one CPU backend into the binary (no run-time variants yet):
//! AVX2/FMA on x86-64, plain armv8-a on aarch64 (no dot-product kernels, see README).

pub use edgellm_backend::CpuBackend;

/// The kernels this build carries.
pub const BUILT_IN: &str = if cfg!(target_arch = "aarch64") {
    "llama.cpp CPU, built in: armv8-a"
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
    {
        let all = [
            ("sse4.2", std::arch::is_x86_feature_detected!("sse4.2")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("f16c", std::arch::is_x86_feature_detected!("f16c")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
        ];
        found.extend(all.iter().filter(|f| f.1).map(|f| f.0));
    }
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
    CpuBackend {
        arch: std::env::consts::ARCH.to_string(),
        backend: BUILT_IN.to_string(),
        features: features(),
        cpu,
    }
}
