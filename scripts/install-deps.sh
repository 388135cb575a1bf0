#!/usr/bin/env bash
# Installs the system packages splatrack's GPU code needs on Debian/Ubuntu when they are missing:
# the Vulkan loader and Mesa's drivers (lavapipe, a software Vulkan, on machines without a GPU).
set -euo pipefail
# GL through EGL (libegl1 libegl-mesa0 libgl1-mesa-dri) is the fallback backend; tests check it too.
# The app's GUI test runs a real window under Xvfb; winit loads the X11 libraries at run time.
packages=(mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri xvfb xauth libxkbcommon-x11-0 libx11-xcb1 libxcursor1 libxi6 libfontconfig1)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
