# Shared helpers for the end-to-end tests: a scratch folder, the built
# binaries and plugins, a config written per test, and assertions.
# Each test sources this file; it runs under automake's test driver with
# top_srcdir and top_builddir exported.
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
JOURNEYD="$top_builddir/journeyd"
JOURNEYCTL="$top_builddir/journeyctl"
PLUGINS="$top_builddir/.libs"
SERVERS="$top_srcdir/tests/servers"
PY=/usr/bin/python3

T=$(mktemp -d "${TMPDIR:-/tmp}/journeyd-test.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	if [ "${KEEP:-}" = "" ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT
CONF="$T/journeyd.conf"
DB="$T/journeyd.db"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
	ok "$1"
}
# assert_grep WHAT PATTERN FILE
assert_grep() {
	grep -q -e "$2" "$3" || { cat "$3" >&2; fail "$1: no '$2' in $3"; }
	ok "$1"
}
assert_no_grep() {
	if grep -q -e "$2" "$3"; then cat "$3" >&2; fail "$1: '$2' in $3"; fi
	ok "$1"
}

# write_conf BODY: a config with the test's database and the built plugins.
write_conf() {
	{
		echo "database = \"$DB\";"
		echo "plugin_dir = \"$PLUGINS\";"
		cat
	} > "$CONF"
}

# sql QUERY: run a query on the test database.
sql() {
	$PY - "$DB" "$1" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
for row in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PYEOF
}

# wait_for WHAT COMMAND...: poll a condition for up to 20 seconds.
wait_for() {
	what=$1; shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -lt 400 ] || fail "timed out waiting for $what"
		sleep 0.05
	done
}

# ctl ARGS...: journeyctl on the test config.
ctl() { "$JOURNEYCTL" -c "$CONF" "$@"; }
# jd ARGS...: journeyd on the test config.
jd() { "$JOURNEYD" -c "$CONF" "$@"; }
# sql_is EXPECTED QUERY: does the query print exactly EXPECTED?
sql_is() { [ "$(sql "$2")" = "$1" ]; }
