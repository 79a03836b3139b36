#!/usr/bin/env bash
# Builds the obsgen wheel: the CLI binary first (it goes into the wheel's scripts, so
# `pip install` puts `obsgen` on the PATH), then the extension with maturin. The wheel lands
# in target/wheels/. Usage: python/build.sh (from anywhere; needs maturin: pip install maturin)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin obsgen
mkdir -p python/obsgen.data/scripts
cp target/release/obsgen python/obsgen.data/scripts/obsgen
maturin build --release --locked -m python/Cargo.toml --out target/wheels
