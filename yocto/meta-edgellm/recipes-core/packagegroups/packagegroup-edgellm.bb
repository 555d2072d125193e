SUMMARY = "edgellm appliance: the daemon and its default model"
DESCRIPTION = "Everything an image needs to run edgellm: the daemon (with its systemd unit) \
               and the default GGUF model."
LICENSE = "MIT"

inherit packagegroup

# edgellm carries its own ACME trust roots (webpki-roots), so no ca-certificates.
RDEPENDS:${PN} = "\
    edgellm \
    edgellm-model-qwen \
"
