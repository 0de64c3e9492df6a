#!/usr/bin/env bash
# Installs the Debian packages qprep needs, only if some are missing (idempotent, quiet when all
# are there). Used by run.sh, test.sh and bench/run.sh. Needs root (or sudo) on Debian 12.
set -euo pipefail
PACKAGES=(
  cmake g++ make pkg-config
  libboost-dev libboost-graph-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhwy-dev nlohmann-json3-dev
)
# Extra packages for optional parts: QPREP_SETUP_EXTRA="python3-torch ..." adds to the list.
if [ -n "${QPREP_SETUP_EXTRA:-}" ]; then
  read -r -a extra <<<"$QPREP_SETUP_EXTRA"
  PACKAGES+=("${extra[@]}")
fi
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
