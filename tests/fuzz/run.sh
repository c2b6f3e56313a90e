#!/bin/sh
# run.sh [SECONDS]: build the libFuzzer targets with clang and run each for
# SECONDS (default 30), starting from its seed corpus in the tree.
#
# The targets are compiled straight from the sources (no configure needed)
# with -fsanitize=fuzzer,address,undefined into $FUZZ_OUT (default
# build-fuzz/ at the top of the tree). New inputs the fuzzer finds go to
# $FUZZ_OUT/corpus/NAME, never into the tree's seeds; a crash is saved as
# $FUZZ_OUT/crashes/NAME-crash-... and makes the script exit 1. To keep a
# crash as a regression test, fix the bug and copy the file into
# tests/fuzz/corpus/NAME/: make check replays every corpus file.
#
# A target's dictionary of words, tests/fuzz/NAME.dict, is used when there
# is one.
#
# Environment: CC (default clang), FUZZ_TARGETS (default: all five),
# FUZZ_FLAGS (more libFuzzer options).
set -eu

cd "$(dirname "$0")/../.."
top=$(pwd)
seconds=${1:-30}
out=${FUZZ_OUT:-$top/build-fuzz}
cc=${CC:-clang}
targets=${FUZZ_TARGETS:-expr conf import render tz http}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found (apt-get install clang)" >&2
	exit 1
fi

mkdir -p "$out/obj" "$out/crashes"
# The few definitions configure would make.
cat > "$out/config.h" <<'EOH'
#define _GNU_SOURCE 1
#define PACKAGE_VERSION "fuzz"
EOH

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=gnu11 -g -O1 -fno-omit-frame-pointer $san -I$out -I$top/include
    -I$top/src -I$top/tests/fuzz -DSYSCONFDIR=\"/etc\"
    -DPLUGINDIR=\"/nonexistent\" -DLOCALSTATEDIR=\"/var\"
    $(pkg-config --cflags sqlite3 libconfig libcurl libcrypto jansson zlib)"
libs="$(pkg-config --libs sqlite3 libconfig libcurl libcrypto jansson zlib) -ldl -lpthread -lm"

echo "fuzz: compiling the core with $cc"
objs=""
# The core, and of the daemon the HTTP API's body parser (no socket).
for src in $(ls "$top"/src/*/*.c | grep -v -e /daemon/ -e /ctl/) \
    "$top/src/daemon/body.c" "$top/tests/fuzz/fuzz_util.c"; do
	name=$(basename "$src" .c)
	case $name in journeyd|journeyctl) continue ;; esac
	obj="$out/obj/$name.o"
	# shellcheck disable=SC2086 # flags are words
	$cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
	objs="$objs $obj"
done

# libconfig 1.5 leaks the text of a string a syntax error cuts short.
export LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
for t in $targets; do
	bin="$out/fuzz_$t"
	# shellcheck disable=SC2086
	$cc $cflags -fsanitize=fuzzer "$top/tests/fuzz/fuzz_$t.c" $objs $libs \
	    -o "$bin"
	mkdir -p "$out/corpus/$t"
	echo "fuzz: ======== fuzz_$t for ${seconds}s ========"
	start=$(date +%s)
	dict=""
	[ -f "$top/tests/fuzz/$t.dict" ] && dict="-dict=$top/tests/fuzz/$t.dict"
	# shellcheck disable=SC2086
	if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" $dict \
	    ${FUZZ_FLAGS:-} "$out/corpus/$t" "$top/tests/fuzz/corpus/$t" \
	    </dev/null >"$out/fuzz_$t.log" 2>&1; then
		echo "fuzz: fuzz_$t FAILED; its log:"
		tail -n 60 "$out/fuzz_$t.log"
		status=1
	fi
	grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' \
	    "$out/fuzz_$t.log" | tr '\n' ' ' || true
	echo
	echo "fuzz: fuzz_$t ran $(($(date +%s) - start))s," \
	    "$(ls "$out/corpus/$t" | wc -l) inputs in its working corpus"
done
[ "$status" -eq 0 ] && echo "fuzz: no crash" || echo "fuzz: crashes in $out/crashes"
exit "$status"
