#!/usr/bin/env bash
# Runs gpu-check on a machine with an NVIDIA GPU from the bundle that
# prepare.sh made (make gpu-check): unpacks it (with xz, or Python's lzma
# where xz is missing) into GPU_CHECK_DIR (default /tmp/gpu-check), runs
# gpu-check there with the arguments given, and prints its table. Where OUT
# names a folder (the device tool's), the table and the full log are written
# there. Needs neither Go nor internet; the EGL, GL and Vulkan loaders must
# be installed (the README's "GPU check" unpacks them from .gl).
# Usage: device.sh BUNDLE [gpu-check flags]
set -euo pipefail
bundle=${1:?usage: device.sh BUNDLE [gpu-check flags]}
shift
dir=${GPU_CHECK_DIR:-/tmp/gpu-check}
rm -rf "$dir"
mkdir -p "$dir"
if xz --version >/dev/null 2>&1; then
  xz -dc "$bundle" | tar -xf - -C "$dir"
else
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$bundle" | tar -xf - -C "$dir"
fi
# The table and the log go straight to OUT when it is there (the device
# tool's folder, which comes back even when the run is stopped at its limit).
out=$dir
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  out=$OUT
fi
status=0
"$dir/gpu-check" -dir "$dir" -log "$out/gpu-check.log" "$@" 2>&1 | tee "$out/table.txt" || status=$?
exit "$status"
