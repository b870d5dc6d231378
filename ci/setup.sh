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
  g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # the AArch64 cross build and its
                                                         # replay of the goldens (tests/)
)
# The arm64 libraries the cross build links, beside the native ones (multiarch).
arm64_packages=(libopenblas-dev:arm64 libxxhash-dev:arm64 libfmt-dev:arm64)

# The packages of the arguments that are not installed. A package installed
# for two architectures prints two statuses, hence the prefix match.
not_installed() {
  local p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed"* ]] || echo "$p"
  done
}
mapfile -t missing < <(not_installed "${packages[@]}")
mapfile -t missing_arm64 < <(not_installed "${arm64_packages[@]}")

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_arm64[@]} -eq 0 ]; then
  echo "ci/setup.sh: all $(( ${#packages[@]} + ${#arm64_packages[@]} )) packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing_arm64[@]} -gt 0 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci/setup.sh: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#missing_arm64[@]} -gt 0 ]; then
  echo "ci/setup.sh: installing ${missing_arm64[*]}"
  # Never at the cost of a native package: if apt would remove one, the
  # AArch64 test skips and says what is missing instead.
  $SUDO apt-get install -y -qq --no-install-recommends --no-remove "${missing_arm64[@]}" >/dev/null ||
    echo "ci/setup.sh: warning: the arm64 libraries did not install; the AArch64 test will skip"
fi
echo "ci/setup.sh: done"
