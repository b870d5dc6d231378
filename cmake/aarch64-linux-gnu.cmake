# Cross build for 64-bit ARM Linux with Debian's cross compiler and the arm64
# -dev packages installed beside the native ones (multiarch):
#   apt-get install crossbuild-essential-arm64 qemu-user
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install libopenblas-dev:arm64 libxxhash-dev:arm64 libfmt-dev:arm64
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#     -DLOCKSTEP_TESTS=OFF -DLOCKSTEP_MPI=OFF -DLOCKSTEP_BENCH=OFF -DLOCKSTEP_PYTHON=OFF
#   qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64/cli/lockstep ...
# Open MPI's arm64 package cannot be installed beside the amd64 one, hence
# LOCKSTEP_MPI=OFF (a world of one rank).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# pkg-config (OpenBLAS, xxHash) must read the arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
