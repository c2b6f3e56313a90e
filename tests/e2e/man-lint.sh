#!/bin/sh
# The man pages pass `mandoc -T lint -W warning` without a single message
# (mandoc: scripts/deps.sh test installs it; skipped, 77, without it).
. "$(dirname "$0")/lib.sh"

if ! command -v mandoc >/dev/null 2>&1; then
	echo "SKIP: mandoc not found (apt-get install mandoc)"
	exit 77
fi
n=0
for page in journeyd.8 journeyctl.1 journeyd.conf.5 journeyd-plugin.3; do
	f="$top_builddir/man/$page"
	[ -f "$f" ] || fail "$f was not made (make man/$page)"
	if grep -n '@[A-Za-z_]*@' "$f"; then
		fail "$page has unsubstituted @variables@"
	fi
	set +e
	mandoc -T lint -W warning "$f" > "$T/lint" 2>&1
	rc=$?
	set -e
	if [ "$rc" -ne 0 ] || [ -s "$T/lint" ]; then
		cat "$T/lint"
		fail "mandoc -T lint -W warning $page: exit $rc"
	fi
	ok "$page: mandoc -T lint -W warning, no message"
	n=$((n + 1))
done
assert_eq "four man pages" 4 "$n"
