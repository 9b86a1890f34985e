#!/usr/bin/env bash
# Fills DIR with what `make gpu-check` needs on a machine with an NVIDIA GPU
# and no internet (run it here, with internet, then carry DIR there):
#   llamadesk, gl.test (the GL tests), gpu-check (the driver), testdata/;
#   vulkan/: llama-bench from a llama.cpp build of the same source as
#     node-llama-cpp 3.21.1 (LLAMA_CPP_BIN, default ../scratch/llama.cpp/build/bin)
#     with the prebuilt Vulkan libraries of @node-llama-cpp/linux-x64-vulkan@3.21.1;
#   libs/: libglvnd's EGL, GL and the Vulkan loader unpacked from Debian packages.
# Nothing here is committed: DIR lives outside the repository.
set -euo pipefail
dir=${1:?usage: prepare.sh DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
testdata=${LLAMADESK_TESTDATA:-$repo/../shared/testdata}
llama=${LLAMA_CPP_BIN:-$repo/../scratch/llama.cpp/build/bin}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export GOFLAGS=${GOFLAGS:--tags=sqlite_fts5}

echo "== Go binaries"
(cd "$repo" && go build -o "$dir/llamadesk" . && go test -c -o "$dir/gl.test" ./gpu/gl/ && go build -o "$dir/gpu-check" ./gpu/gpucheck/)

echo "== test data ($testdata)"
rm -rf "$dir/testdata"
cp -r "$testdata" "$dir/testdata"

echo "== llama.cpp Vulkan"
pkg=node-llama-cpp-linux-x64-vulkan-3.21.1.tgz
if [ ! -f "$dir/$pkg" ]; then
  (cd "$dir" && npm pack --silent @node-llama-cpp/linux-x64-vulkan@3.21.1 >/dev/null)
fi
rm -rf "$dir/vulkan" "$dir/package"
mkdir -p "$dir/vulkan"
tar -xzf "$dir/$pkg" -C "$dir"
cp "$dir"/package/bins/linux-x64-vulkan/*.so "$dir/vulkan/"
rm -rf "$dir/package"
for f in llama-bench libllama-bench-impl.so; do
  [ -f "$llama/$f" ] || { echo "prepare.sh: $llama/$f is missing: build llama.cpp from node-llama-cpp 3.21.1's source (LLAMA_CPP_BIN)" >&2; exit 1; }
  cp "$llama/$f" "$dir/vulkan/"
done
# llama-bench links the sonames of a shared build; the package names its
# libraries by backend.
(cd "$dir/vulkan" && ln -sf libllama.vulkan.v0.4.0.so libllama.so.0 && ln -sf libggml.vulkan.v0.4.0.so libggml.so.0 &&
  ln -sf libggml-base.so libggml-base.so.0 && ln -sf libllama-common.so libllama-common.so.0)

echo "== EGL, GL and Vulkan loaders (Debian packages)"
rm -rf "$dir/debs" "$dir/libs"
mkdir -p "$dir/debs" "$dir/libs"
(cd "$dir/debs" && apt-get download -q libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/libs"; done
rm -rf "$dir/debs"

du -sh "$dir"
echo "ready: carry $dir to the GPU machine and run: make gpu-check GPU_CHECK_DIR=$dir (or $dir/gpu-check -dir $dir)"
