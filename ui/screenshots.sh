#!/usr/bin/env bash
# Takes a PNG of each page of the real window. Run it under an X server
# (`make screenshots` uses xvfb-run); needs ImageMagick's `import` and
# xwininfo (Debian: imagemagick x11-utils).
#
#   ui/screenshots.sh BINARY OUTDIR
#
# Each page opens in a fresh process on a temporary data folder (the shared
# chat model linked in, three conversations imported from ui/testdata),
# chosen with LLAMADESK_UI_PAGE. The run fails when Fyne reports a call
# from the wrong goroutine.
set -euo pipefail

bin=$(realpath "$1")
out=$2
here=$(cd "$(dirname "$0")" && pwd)
testdata=${LLAMADESK_TESTDATA:-$here/../../shared/testdata}
model=$testdata/models/chat-q4_k_m.gguf
[ -f "$model" ] || { echo "screenshots: no $model (set LLAMADESK_TESTDATA)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Fyne reads the locale from these; "C" makes it log a parse error.
app_locale=(LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8)

# A data folder with a model and three conversations dated around today.
home=$tmp/home
mkdir -p "$home/models"
ln -s "$model" "$home/models/chat-q4_k_m.gguf"
today=$(date -u +%Y-%m-%d)
yesterday=$(date -u -d yesterday +%Y-%m-%d)
lastweek=$(date -u -d '4 days ago' +%Y-%m-%d)
for f in trip poem code; do
	sed -e "s/__TODAY__/$today/g" -e "s/__YESTERDAY__/$yesterday/g" -e "s/__LASTWEEK__/$lastweek/g" \
		"$here/testdata/screenshot-$f.json" > "$tmp/$f.json"
	env "${app_locale[@]}" LLAMADESK_HOME="$home" "$bin" import "$tmp/$f.json" >/dev/null
done
# A fresh data folder for the first start.
empty=$tmp/empty
mkdir -p "$empty"

status=0
shoot() { # shoot NAME PAGE HOME
	local name=$1 page=$2 data=$3 log=$tmp/$1.log pid geom
	env "${app_locale[@]}" LLAMADESK_HOME="$data" LLAMADESK_UI_PAGE="$page" LLAMADESK_UI_THEME="${THEME:-}" "$bin" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 150); do
		xwininfo -name Llamadesk >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep "${SETTLE:-3}"
	geom=$(xwininfo -name Llamadesk | awk '/Width:/{w=$2} /Height:/{h=$2} /Absolute upper-left X:/{x=$4} /Absolute upper-left Y:/{y=$4} END{print w "x" h "+" x "+" y}')
	import -window root -crop "$geom" +repage "$out/$name.png"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	if grep -q "Error in Fyne call thread" "$log"; then
		echo "screenshots: $name: Fyne reported a call from the wrong goroutine:" >&2
		cat "$log" >&2
		status=1
	fi
	echo "$out/$name.png"
}
shoot welcome welcome "$empty"
shoot chat chat "$home"
shoot models models "$home"
shoot catalog catalog "$home"
shoot personas personas "$home"
shoot settings settings "$home"
THEME=light shoot chat-light chat "$home"
THEME=light shoot catalog-light catalog "$home"
exit $status
