# CMake toolchain for aarch64 Linux (the Jetson's architecture).
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cross/aarch64-linux-gnu.cmake \
#         -DDASHLOOP_SYSROOT=/path/to/sysroot
# DASHLOOP_SYSROOT: a Debian arm64 sysroot (cross/make_sysroot.sh) or a
# Jetson L4T rootfs (see cross/README.md). Tests run under qemu-user.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT DASHLOOP_SYSROOT)
  set(DASHLOOP_SYSROOT "$ENV{DASHLOOP_SYSROOT}")
endif()
if(NOT DASHLOOP_SYSROOT)
  set(DASHLOOP_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/sysroot-arm64")
endif()
set(DASHLOOP_SYSROOT "${DASHLOOP_SYSROOT}" CACHE PATH "aarch64 sysroot")
set(CMAKE_SYSROOT "${DASHLOOP_SYSROOT}")

set(CROSS_PREFIX aarch64-linux-gnu- CACHE STRING "cross compiler prefix")
set(CMAKE_C_COMPILER ${CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${CROSS_PREFIX}g++)

set(CMAKE_FIND_ROOT_PATH "${DASHLOOP_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The sysroot's libraries find their own dependencies (libopencv_* -> libblas...).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${DASHLOOP_SYSROOT}/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,${DASHLOOP_SYSROOT}/lib/aarch64-linux-gnu -Wl,-rpath-link,${DASHLOOP_SYSROOT}/usr/lib/aarch64-linux-gnu/blas -Wl,-rpath-link,${DASHLOOP_SYSROOT}/usr/lib/aarch64-linux-gnu/lapack")

# pkg-config answers from the sysroot, with its paths prefixed.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${DASHLOOP_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR} "${DASHLOOP_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${DASHLOOP_SYSROOT}/usr/share/pkgconfig:${DASHLOOP_SYSROOT}/usr/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ctest and gtest_discover_tests run the aarch64 binaries through qemu-user.
find_program(QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${QEMU_AARCH64};-L;${DASHLOOP_SYSROOT}")
endif()
