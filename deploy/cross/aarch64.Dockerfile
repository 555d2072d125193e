# The build environment of `cross build --target aarch64-unknown-linux-gnu` (see cross.toml):
# Debian 12 with the same compilers tests/aarch64.sh uses in CI. cross's stock image
# (Ubuntu 20.04) has clang 10 and gcc 9, which cannot compile llama.cpp's armv9.2 CPU
# variants; Debian 12's clang 14 can. llama.cpp is compiled with clang and linked through
# the cross binutils; Rust code links with aarch64-linux-gnu-gcc (.cargo/config.toml).
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates make cmake pkg-config clang libclang-dev \
        gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross libgomp1-arm64-cross \
        qemu-user \
    && rm -rf /var/lib/apt/lists/*
ENV CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
    CC_aarch64_unknown_linux_gnu=clang \
    CXX_aarch64_unknown_linux_gnu=clang++ \
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    LDFLAGS=-fuse-ld=/usr/bin/aarch64-linux-gnu-ld
