#!/bin/sh
# test.sh: build journeyd and run the whole test suite, three times:
#   build/      ./configure --enable-werror, make check, make distcheck
#   build/      make check-valgrind: the test programs (unit tests and fuzz
#               corpus replays) again under valgrind memcheck
#   build-san/  ./configure --enable-sanitizers --enable-werror, make check
#   build-fuzz/ tests/fuzz/run.sh: each libFuzzer target for a short while
# Both are out-of-tree (VPATH) builds from a fresh autogen.sh. On failure the
# failing tests' logs are printed. The last line is "N passed, N failed"
# over all runs (PASS, XPASS and XFAIL count as passed, FAIL and ERROR as
# failed; a fuzz target counts as one test, failed when it found a crash;
# a build step that fails before its tests ran counts as one failure).
# Exits non-zero when anything failed.
#
# make distcheck runs only when make check passed in build/.
# Environment: JOURNEYD_DISTCHECK=0 skips make distcheck; JOURNEYD_VALGRIND=0
# skips the valgrind pass; JOURNEYD_FUZZ=0 skips fuzzing, and
# JOURNEYD_FUZZ_SECONDS is how long each target runs (default 15); JOBS
# (default 2).
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
jobs=${JOBS:-2}

./scripts/deps.sh test
./scripts/npm-deps.sh
# For make distcheck too, whose copy of the tree has no node_modules.
JD_NODE_MODULES="$top/tests/npm/node_modules"
export JD_NODE_MODULES

# A VPATH build needs a source tree that is not configured in place.
if [ -f config.status ]; then
	echo "test: the source tree is configured in place; make distclean first"
	make distclean >/dev/null 2>&1 || rm -f config.status config.h Makefile
fi

echo "test: ./autogen.sh"
./autogen.sh

passed=0
failed=0
status=0

# Add the counts of one test-suite.log to the totals.
count_log() {
	log=$1
	[ -f "$log" ] || return 1
	counts=$(awk '
	    /^# (PASS|XPASS|XFAIL): / { p += $3 }
	    /^# (FAIL|ERROR): / { f += $3 }
	    END { print p + 0, f + 0 }' "$log")
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
	echo "test: $log: ${counts% *} passed, ${counts#* } failed"
}

# Print the failing tests' logs: automake copies them into test-suite.log.
show_failures() {
	log=$1
	[ -f "$log" ] || return 0
	echo "test: ======== $log ========"
	cat "$log"
}

# Run one build: name, then configure options.
run_build() {
	dir=$1
	shift
	echo
	echo "test: ======== $dir: configure $* ========"
	rm -rf "$dir"
	mkdir "$dir"
	if ! (cd "$dir" && "$top/configure" "$@"); then
		echo "test: $dir: configure failed"
		[ -f "$dir/config.log" ] && tail -n 40 "$dir/config.log"
		failed=$((failed + 1))
		status=1
		return 1
	fi
	echo "test: ======== $dir: make ========"
	if ! (cd "$dir" && make -j"$jobs"); then
		echo "test: $dir: make failed"
		failed=$((failed + 1))
		status=1
		return 1
	fi
	echo "test: ======== $dir: make check ========"
	check_ok=yes
	if ! (cd "$dir" && make -j"$jobs" check); then
		echo "test: $dir: make check failed"
		check_ok=no
		status=1
		show_failures "$dir/test-suite.log"
	fi
	if ! count_log "$dir/test-suite.log"; then
		echo "test: $dir: no test-suite.log"
		failed=$((failed + 1))
		status=1
	fi
	return 0
}

# distcheck runs the suite again from the tarball: only when it passed here.
check_ok=no
if run_build build --enable-werror && [ "$check_ok" = yes ] &&
    [ "${JOURNEYD_DISTCHECK:-1}" != 0 ]; then
	echo "test: ======== build: make distcheck ========"
	start=$(date +%s)
	if ! (cd build && make -j"$jobs" distcheck); then
		echo "test: build: make distcheck failed"
		for log in build/journeyd-*/_build/*/test-suite.log; do
			show_failures "$log"
		done
		failed=$((failed + 1))
		status=1
	fi
	echo "test: make distcheck took $(($(date +%s) - start))s"
fi

# The test programs under valgrind, in the build without sanitizers.
if [ -f build/Makefile ] && [ "${JOURNEYD_VALGRIND:-1}" != 0 ]; then
	echo "test: ======== build: make check-valgrind ========"
	start=$(date +%s)
	if ! (cd build && make -j"$jobs" check-valgrind); then
		echo "test: build: make check-valgrind failed"
		status=1
		show_failures build/test-suite-valgrind.log
	fi
	if ! count_log build/test-suite-valgrind.log; then
		echo "test: build: no test-suite-valgrind.log"
		failed=$((failed + 1))
		status=1
	fi
	echo "test: make check-valgrind took $(($(date +%s) - start))s"
fi

run_build build-san --enable-sanitizers --enable-werror || true

# Fuzzing, briefly: each target from its seed corpus and what earlier runs
# found (kept in build-fuzz/corpus). A crash is a failed test, its input
# saved in build-fuzz/crashes.
if [ "${JOURNEYD_FUZZ:-1}" != 0 ]; then
	seconds=${JOURNEYD_FUZZ_SECONDS:-15}
	echo
	echo "test: ======== build-fuzz: tests/fuzz/run.sh $seconds ========"
	start=$(date +%s)
	rm -rf build-fuzz/crashes
	mkdir -p build-fuzz
	fuzz_rc=0
	FUZZ_OUT="$top/build-fuzz" ./tests/fuzz/run.sh "$seconds" \
	    >build-fuzz/run.log 2>&1 || fuzz_rc=$?
	cat build-fuzz/run.log
	ran=$(grep -c '^fuzz: ======== fuzz_' build-fuzz/run.log || true)
	crashed=$(grep -c '^fuzz: fuzz_.* FAILED' build-fuzz/run.log || true)
	clean=$((ran - crashed))
	if [ "$crashed" -eq 0 ] && { [ "$fuzz_rc" -ne 0 ] || [ "$ran" -eq 0 ]; }
	then
		echo "test: build-fuzz: tests/fuzz/run.sh failed before fuzzing"
		crashed=1
	fi
	[ "$crashed" -eq 0 ] || status=1
	passed=$((passed + clean))
	failed=$((failed + crashed))
	echo "test: build-fuzz: $clean passed, $crashed failed"
	echo "test: fuzzing took $(($(date +%s) - start))s"
fi

echo
echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
	status=1
fi
exit "$status"
