#!/usr/bin/env bash
# Install what is needed, build, and start sipsec with its embedded defaults.
# Extra arguments go to `sipsec serve` (for example --domain sip.example.com).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)"
exec build/release/sipsec serve "$@"
