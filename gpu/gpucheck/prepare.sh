#!/usr/bin/env bash
# Makes the gpu-check bundle (make gpu-check-prepare): what device.sh needs
# on a machine with an NVIDIA GPU, no internet and no Go, in one
# xz-compressed tar small enough to travel to a lent GPU machine with the
# working tree and .gl (64 MiB in all; see the README, "GPU check"):
#   llamadesk, gl.test (the GL tests) and gpu-check, built here, stripped;
#   testdata/: the shared models, golden logits and prompts the golden GL
#     tests read, and the Llama 2 vocabulary dev synth writes into models;
#   vulkan/: llama-bench from a llama.cpp build of the same source as
#     node-llama-cpp 3.21.1 (LLAMA_CPP_BIN, default ../scratch/llama.cpp/build/bin)
#     with the prebuilt libraries of @node-llama-cpp/linux-x64-vulkan@3.21.1
#     it loads (llama, ggml, the Vulkan backend, the baseline and AVX2 CPU
#     backends), stripped;
#   libs/: the X11 client libraries the Go programs link (GPU servers lack them).
# Not in it: the 7B models (gpu-check writes them there with llamadesk dev
# synth) and the EGL, GL and Vulkan loaders, which come from Debian packages
# in the repository's .gl folder, the device tool's way: prepared here when
# missing. DIR is a staging folder outside the repository; nothing here is
# committed.
# Usage: prepare.sh DIR BUNDLE
set -euo pipefail
usage="usage: prepare.sh DIR BUNDLE"
dir=${1:?$usage}
bundle=${2:?$usage}
repo=$(cd "$(dirname "$0")/../.." && pwd)
testdata=${LLAMADESK_TESTDATA:-$repo/../shared/testdata}
llama=${LLAMA_CPP_BIN:-$repo/../scratch/llama.cpp/build/bin}
# What may travel: the working tree, .gl and the bundle together.
limit=$((64 << 20))
mkdir -p "$dir" "$(dirname "$bundle")"
dir=$(cd "$dir" && pwd)
bundle=$(cd "$(dirname "$bundle")" && pwd)/$(basename "$bundle")
export GOFLAGS=${GOFLAGS:--tags=sqlite_fts5}
# The folders this script fills are emptied first (the test data is read-only).
[ ! -d "$dir/testdata" ] || chmod -R u+w "$dir/testdata"
rm -rf "$dir/testdata" "$dir/vulkan" "$dir/libs" "$dir/package" "$dir/models"

echo "== Go programs, stripped"
(cd "$repo" && go build -ldflags='-s -w' -o "$dir/llamadesk" . &&
  go test -c -ldflags='-s -w' -o "$dir/gl.test" ./gpu/gl/ &&
  go build -ldflags='-s -w' -o "$dir/gpu-check" ./gpu/gpucheck/)

echo "== test data ($testdata)"
mkdir -p "$dir/testdata/vocab" "$dir/testdata/golden"
cp -r "$testdata/models" "$testdata/prompts" "$dir/testdata/"
cp "$testdata"/golden/*.logits.json "$dir/testdata/golden/"
cp "$testdata/vocab/llama2-spm.gguf" "$dir/testdata/vocab/"
chmod -R u+w "$dir/testdata"

echo "== llama.cpp's Vulkan build"
pkg=node-llama-cpp-linux-x64-vulkan-3.21.1.tgz
if [ ! -f "$dir/$pkg" ]; then
  (cd "$dir" && npm pack --silent @node-llama-cpp/linux-x64-vulkan@3.21.1 >/dev/null)
fi
mkdir -p "$dir/vulkan"
tar -xzf "$dir/$pkg" -C "$dir"
for f in libllama.vulkan.v0.4.0.so libggml.vulkan.v0.4.0.so libggml-base.so libllama-common.so libggml-vulkan.so \
  libggml-cpu-x64.so libggml-cpu-haswell.so; do
  cp "$dir/package/bins/linux-x64-vulkan/$f" "$dir/vulkan/"
done
rm -rf "$dir/package"
for f in llama-bench libllama-bench-impl.so; do
  [ -f "$llama/$f" ] || { echo "prepare.sh: $llama/$f is missing: build llama.cpp from node-llama-cpp 3.21.1's source (LLAMA_CPP_BIN)" >&2; exit 1; }
  cp "$llama/$f" "$dir/vulkan/"
done
strip --strip-unneeded "$dir"/vulkan/*
# llama-bench links the sonames of a shared build; the package names its
# libraries by backend.
(cd "$dir/vulkan" && ln -sf libllama.vulkan.v0.4.0.so libllama.so.0 && ln -sf libggml.vulkan.v0.4.0.so libggml.so.0 &&
  ln -sf libggml-base.so libggml-base.so.0 && ln -sf libllama-common.so libllama-common.so.0)

echo "== X11 client libraries"
mkdir -p "$dir/libs"
# Every library the Go programs link but glibc's and libglvnd's (.gl has those).
ldd "$dir/llamadesk" "$dir/gl.test" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
  while read -r soname path; do
    case $soname in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) ;;
    libGL.so.* | libGLX.so.* | libGLdispatch.so.* | libEGL.so.* | libOpenGL.so.*) ;;
    *) cp -L "$path" "$dir/libs/$soname" ;;
    esac
  done
ls "$dir/libs"

if ! ls "$repo"/.gl/*.deb >/dev/null 2>&1; then
  echo "== .gl: the EGL, GL and Vulkan loaders (Debian packages)"
  mkdir -p "$repo/.gl" /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  apt-get "${o[@]}" update -qq
  (cd "$repo/.gl" && apt-get "${o[@]}" download -q libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

echo "== bundle $bundle"
tar -C "$dir" -cf - llamadesk gl.test gpu-check testdata vulkan libs | xz -9 -T2 >"$bundle.part"
mv "$bundle.part" "$bundle"
size() { du -cb "$@" | tail -1 | cut -f1; }
tree=$(cd "$repo" && git ls-files -z -co --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)
gl=$(size "$repo"/.gl/*.deb)
b=$(size "$bundle")
total=$((tree + gl + b))
mib() { awk -v n="$1" 'BEGIN { printf "%.1f MiB", n / 1048576 }'; }
echo "bundle $(mib "$b"), working tree $(mib "$tree"), .gl $(mib "$gl"): $(mib "$total") of the $(mib "$limit") that may travel"
if [ "$total" -gt "$limit" ]; then
  echo "prepare.sh: too large to travel to a GPU machine" >&2
  exit 1
fi
