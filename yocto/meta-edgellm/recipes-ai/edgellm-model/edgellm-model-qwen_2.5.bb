SUMMARY = "Qwen2.5-0.5B-Instruct (GGUF, Q4_K_M) for edgellm"
DESCRIPTION = "The model edgellm loads by default, installed as \
               /usr/share/edgellm/models/model.gguf. Fetched from Qwen's own Hugging Face \
               repository at a pinned revision and checked against its sha256."
HOMEPAGE = "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF"
SECTION = "ai"
LICENSE = "Apache-2.0"
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# The Hugging Face revision (git commit of the model repository) the file is pinned to;
# the same file and hash `edgellm pull` installs without a URL.
MODEL_REVISION = "9217f5db79a29953eb74d5343926648285ec7e67"
MODEL_FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"

SRC_URI = "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/${MODEL_REVISION}/${MODEL_FILE};downloadfilename=${MODEL_REVISION}-${MODEL_FILE}"
SRC_URI[sha256sum] = "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db"

S = "${UNPACKDIR}"

inherit allarch

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${datadir}/edgellm/models
    install -m 0644 ${S}/${MODEL_REVISION}-${MODEL_FILE} ${D}${datadir}/edgellm/models/model.gguf
}

FILES:${PN} += "${datadir}/edgellm/models"
