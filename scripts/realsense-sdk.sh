#!/usr/bin/env bash
# Makes librealsense available without Intel's packages (Debian has none): the pyrealsense2 wheel from PyPI
# carries the whole SDK statically and exports its C API (rs2_*). This script downloads the wheel, installs
# its module as librealsense2.so (with a symlink under its SONAME) plus a realsense2.pc for pkg-config, and
# prints the environment a build and a run need:
#
#     eval "$(bash scripts/realsense-sdk.sh)"
#     cargo test --features realsense
#
# At run time the module needs libusb and references Python symbols, hence libpython3.11 in LD_PRELOAD.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.59.1.11053
sdk="${REALSENSE_SDK_DIR:-$PWD/target/realsense-sdk}"
packages=(libusb-1.0-0 libpython3.11 pkg-config unzip)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >&2
fi
if [ ! -f "$sdk/lib/librealsense2.so" ]; then
    mkdir -p "$sdk/wheel" "$sdk/lib/pkgconfig"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
        --platform manylinux2014_x86_64 "pyrealsense2==$version" -d "$sdk/wheel" >&2
    unzip -q -o "$sdk"/wheel/pyrealsense2-*.whl 'pyrealsense2/pyrealsense2.cpython-311-x86_64-linux-gnu.so' -d "$sdk/wheel"
    module="$sdk/wheel/pyrealsense2/pyrealsense2.cpython-311-x86_64-linux-gnu.so"
    cp "$module" "$sdk/lib/librealsense2.so"
    soname=$(objdump -p "$module" | awk '/SONAME/ {print $2}')
    ln -sf librealsense2.so "$sdk/lib/$soname"
    cat > "$sdk/lib/pkgconfig/realsense2.pc" <<PC
prefix=$sdk
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: realsense2
Description: Intel RealSense SDK 2.0 (from the pyrealsense2 $version wheel)
Version: ${version%.*}
Libs: -L\${libdir} -lrealsense2
Cflags: -I\${includedir}
PC
fi
# awk reads to the end: leaving early would kill ldconfig by SIGPIPE now and then, and pipefail the script.
python_lib=$(ldconfig -p | awk '/libpython3\.11\.so\.1\.0 / && !found {print $NF; found = 1}')
echo "export PKG_CONFIG_PATH=\"$sdk/lib/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}\""
echo "export LD_LIBRARY_PATH=\"$sdk/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
echo "export LD_PRELOAD=\"$python_lib\""
