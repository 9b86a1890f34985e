#!/usr/bin/env bash
# Takes PNGs of the real window: each page, and each state issue 15 asked
# to fix, in the dark and light themes, at 800×600 and 1440×900. Run it
# under an X server at least 1440×900 (`make screenshots` uses xvfb-run);
# needs ImageMagick's `import` and xwininfo (Debian: imagemagick x11-utils).
#
#   ui/screenshots.sh BINARY OUTDIR [NAME...]
#
# Each shot opens a fresh process on a temporary data folder (the shared
# chat model linked in, four conversations imported from ui/testdata),
# with LLAMADESK_UI_PAGE, LLAMADESK_UI_SCENE, LLAMADESK_UI_THEME and
# LLAMADESK_UI_SIZE choosing what it shows. Shots are named
# NAME-THEME-SIZE.png (chat-dark-800x600.png). With NAMEs, only those shots
# are taken; THEMES and SIZES narrow the others ("dark", "800x600"). The
# run fails when Fyne reports a call from the wrong goroutine.
set -euo pipefail

bin=$(realpath "$1")
out=$2
shift 2
only=" $* "
here=$(cd "$(dirname "$0")" && pwd)
testdata=${LLAMADESK_TESTDATA:-$here/../../shared/testdata}
model=$testdata/models/chat-q4_k_m.gguf
[ -f "$model" ] || { echo "screenshots: no $model (set LLAMADESK_TESTDATA)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Fyne reads the locale from these; "C" makes it log a parse error.
app_locale=(LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8)

# A data folder with a model and four conversations dated around today.
home=$tmp/home
mkdir -p "$home/models"
ln -s "$model" "$home/models/chat-q4_k_m.gguf"
today=$(date -u +%Y-%m-%d)
yesterday=$(date -u -d yesterday +%Y-%m-%d)
lastweek=$(date -u -d '4 days ago' +%Y-%m-%d)
for f in trip poem code markdown; do
	sed -e "s/__TODAY__/$today/g" -e "s/__YESTERDAY__/$yesterday/g" -e "s/__LASTWEEK__/$lastweek/g" \
		"$here/testdata/screenshot-$f.json" > "$tmp/$f.json"
	env "${app_locale[@]}" LLAMADESK_HOME="$home" "$bin" import "$tmp/$f.json" >/dev/null
done
# A fresh data folder for the first start.
empty=$tmp/empty
mkdir -p "$empty"
# A PATH without a file manager (for "show in folder").
nobin=$tmp/nobin
mkdir -p "$nobin"

status=0
# shoot NAME PAGE SCENE HOME THEME SIZE [ENV...]
shoot() {
	local name=$1 page=$2 scene=$3 data=$4 theme=$5 size=$6
	shift 6
	local file=$name-$theme-$size log=$tmp/$name-$theme-$size.log pid geom
	if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then
		return
	fi
	# Each shot gets its own copy of the data folder, so that scenes do not
	# leave traces in the next one.
	rm -rf "$tmp/run"
	cp -a "$data" "$tmp/run"
	env "${app_locale[@]}" LLAMADESK_HOME="$tmp/run" LLAMADESK_UI_PAGE="$page" LLAMADESK_UI_SCENE="$scene" \
		LLAMADESK_UI_THEME="$theme" LLAMADESK_UI_SIZE="$size" "$@" "$bin" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 150); do
		xwininfo -name Llamadesk >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep "${SETTLE:-3}"
	if [ -n "$scene" ]; then sleep "${SCENE_SETTLE:-3}"; fi
	geom=$(xwininfo -name Llamadesk | awk '/Width:/{w=$2} /Height:/{h=$2} /Absolute upper-left X:/{x=$4} /Absolute upper-left Y:/{y=$4} END{print w "x" h "+" x "+" y}')
	import -window root -crop "$geom" +repage "$out/$file.png"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	if grep -q "Error in Fyne call thread" "$log"; then
		echo "screenshots: $file: Fyne reported a call from the wrong goroutine:" >&2
		cat "$log" >&2
		status=1
	fi
	echo "$out/$file.png"
}

for theme in ${THEMES:-dark light}; do
	for size in ${SIZES:-800x600 1440x900}; do
		# The pages.
		shoot welcome welcome "" "$empty" $theme $size
		shoot chat chat "" "$home" $theme $size
		shoot models models "" "$home" $theme $size
		shoot catalog catalog "" "$home" $theme $size
		shoot personas personas "" "$home" $theme $size
		shoot settings settings "" "$home" $theme $size
		# The states issue 15 is about.
		shoot search chat search "$home" $theme $size
		shoot generating chat generating "$home" $theme $size
		shoot toolong chat toolong "$home" $theme $size
		shoot sampling chat sampling "$home" $theme $size
		shoot rename chat rename "$home" $theme $size
		shoot delete chat delete "$home" $theme $size
		shoot tooltip chat tooltip "$home" $theme $size
		shoot persona-dirty personas persona-dirty "$home" $theme $size
		shoot settings-dirty settings settings-dirty "$home" $theme $size
		shoot download-failed downloads download-failed "$home" $theme $size HF_ENDPOINT=http://127.0.0.1:9
		shoot error-details downloads error-details "$home" $theme $size HF_ENDPOINT=http://127.0.0.1:9
		shoot show-path models show-path "$home" $theme $size PATH="$nobin"
	done
done
exit $status
