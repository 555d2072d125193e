SUMMARY = "Private LLM server: in-process llama.cpp behind self-provisioned HTTPS"
DESCRIPTION = "edgellm runs a GGUF model in-process with llama.cpp and serves OpenAI- and \
               Ollama-compatible APIs and a chat page over HTTPS it provisions itself (ACME, a LAN CA or \
               certificate files), with API keys, rate limits, metrics and systemd integration."
HOMEPAGE = "https://github.com/edgellm/edgellm"
SECTION = "net"
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=8;endline=8;md5=86b31c7756a1a7962f28b62856ed4f05"

DEPENDS += "clang-native cmake-native"

# A release: the tag and its commit, and the crates of that commit's Cargo.lock. Set all
# three with `tests/yocto-release.sh TAG` (see README: Releases). To build a working tree
# instead, use externalsrc (README: Building the working tree).
EDGELLM_TAG = "v0.1.0"
SRC_URI = "git://github.com/edgellm/edgellm.git;protocol=https;branch=main;tag=${EDGELLM_TAG}"
SRCREV = "2bb4e56aa73d6f1ccbdb4d48dce8dcce4bb6f97c"

S = "${UNPACKDIR}/git"

inherit cargo cargo-update-recipe-crates systemd useradd

require ${BPN}-crates.inc

# llama-cpp-sys-2 runs bindgen (libclang from meta-clang) against the target sysroot and
# builds llama.cpp with cmake; ggml turns GGML_NATIVE off when cross-compiling and picks
# up the machine tune's -mcpu through CFLAGS.
export LIBCLANG_PATH = "${STAGING_LIBDIR_NATIVE}"
export BINDGEN_EXTRA_CLANG_ARGS = "--sysroot=${STAGING_DIR_TARGET} --target=${TARGET_SYS}"

CARGO_BUILD_FLAGS += "--bin edgellm"

USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --home-dir ${localstatedir}/lib/edgellm --no-create-home --shell /sbin/nologin --user-group edgellm"

SYSTEMD_SERVICE:${PN} = "edgellm.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install:append() {
    # One copy of the unit and its companions: the repository's own systemd/ folder.
    install -d ${D}${systemd_system_unitdir} ${D}${sysconfdir}/edgellm
    install -m 0644 ${S}/systemd/edgellm.service ${D}${systemd_system_unitdir}/
    install -d ${D}${nonarch_libdir}/sysusers.d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${S}/systemd/edgellm.sysusers ${D}${nonarch_libdir}/sysusers.d/edgellm.conf
    install -m 0644 ${S}/systemd/edgellm.tmpfiles ${D}${nonarch_libdir}/tmpfiles.d/edgellm.conf
    install -m 0640 ${S}/systemd/edgellm.env.example ${D}${sysconfdir}/edgellm/edgellm.env
    # llama.cpp's shared libraries and CPU backend variants, where the release builds them
    # (aarch64 with run-time variants): the binary looks in $ORIGIN/../lib/edgellm, the same
    # layout as deploy/dist/package.sh. Yocto 6.0's gcc 15 knows armv9.2.
    for out in ${B}/target/${CARGO_TARGET_SUBDIR}/build/llama-cpp-sys-2-*/out; do
        [ -d "$out/backends" ] || continue
        install -d ${D}${nonarch_libdir}/edgellm
        for lib in $out/lib/lib*.so.[0-9]; do
            install -m 0755 "$lib" ${D}${nonarch_libdir}/edgellm/
        done
        install -m 0644 $out/backends/libggml-cpu-*.so ${D}${nonarch_libdir}/edgellm/
    done
}

FILES:${PN} += "${nonarch_libdir}/sysusers.d ${nonarch_libdir}/tmpfiles.d ${nonarch_libdir}/edgellm"
CONFFILES:${PN} = "${sysconfdir}/edgellm/edgellm.env"
RRECOMMENDS:${PN} = "edgellm-model-qwen"
