#!/bin/sh
# npm-deps.sh: install the client libraries the HTTP API's tests drive
# (tests/npm/package.json, pinned by tests/npm/package-lock.json: Segment's
# @segment/analytics-node and RudderStack's @rudderstack/rudder-sdk-node)
# into tests/npm/node_modules, with `npm ci` from the npm registry, running
# no install script. Quick when they are there already. Without node and
# npm, or without the registry, it says so and exits 0: the tests that
# need them then skip. scripts/test.sh runs it; tests/e2e/http_clients.py
# finds them there, or where $JD_NODE_MODULES says.
set -eu

cd "$(dirname "$0")/../tests/npm"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "npm-deps: node or npm missing (scripts/deps.sh installs them):" \
	    "the client library tests will skip" >&2
	exit 0
fi
stamp=node_modules/.journeyd-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
	echo "npm-deps: the client libraries are installed"
	exit 0
fi
echo "npm-deps: npm ci in tests/npm"
if npm ci --ignore-scripts --no-audit --no-fund >npm-ci.log 2>&1; then
	cp package-lock.json "$stamp"
	rm -f npm-ci.log
	echo "npm-deps: done"
else
	tail -n 20 npm-ci.log >&2
	echo "npm-deps: npm ci failed (is the registry reachable?): the" \
	    "client library tests will skip" >&2
fi
exit 0
