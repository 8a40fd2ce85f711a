#!/usr/bin/env bash
# Install every Debian 12 package sipsec needs to build, run and test.
# Usage: scripts/deps.sh [--test]   (as root; --test adds the real peers used by the tests)
set -euo pipefail

BUILD_PKGS=(build-essential pkg-config clang libclang-rt-14-dev
	libssl-dev libsrtp2-dev libsqlite3-dev libjansson-dev libpcap-dev openssl ca-certificates)
TEST_PKGS=(sip-tester socat tshark baresip iproute2 procps curl python3)

pkgs=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--test" ] && pkgs+=("${TEST_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/deps.sh: missing packages: ${missing[*]}; run this script as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture: answer no, without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
