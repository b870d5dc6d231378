#!/usr/bin/env bash
# Installs the Debian packages lockstep builds and tests with. Safe to run
# again: it installs only what is missing, and runs `apt-get update` only then.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git clang clang-format python3
  libclang-rt-14-dev  # clang's libFuzzer, ASan and UBSan runtimes (ci/fuzz.sh): only a
                      # Recommends of clang 14, which --no-install-recommends skips
  libopenmpi-dev openmpi-bin
  libopenblas-dev
  libxxhash-dev
  libcli11-dev
  libtoml11-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  nlohmann-json3-dev
  libfmt-dev
  python3-torch   # the PyTorch reference (bench/torch_reference.py, its test) and python/
  pybind11-dev python3-dev  # the Python package lockstep (python/), for /usr/bin/python3
  chromium        # renders the smoke HTML report in a test
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "ci/setup.sh: all ${#packages[@]} packages present"
  exit 0
fi

echo "ci/setup.sh: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ci/setup.sh: done"
