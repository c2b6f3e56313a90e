#!/bin/sh
# deps.sh: install the Debian 12 packages journeyd needs to build, test and
# run its demo. Only what is missing is installed (apt-get update runs once,
# and only then), so it is quick when everything is there. As a user other
# than root it only says what to install. tzdata: quiet hours in customers'
# time zones; chromium (big): the tests that render the HTML report;
# libmicrohttpd and zlib: the HTTP API (SPEC §13) and its gzip bodies.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
libsqlite3-dev sqlite3 libconfig-dev libcurl4-openssl-dev libssl-dev openssl
libmicrohttpd-dev zlib1g-dev
libcmocka-dev python3 python3-aiosmtpd systemd clang time valgrind
tzdata chromium"

# node and npm run the real Segment and RudderStack clients of the HTTP
# API's tests (scripts/npm-deps.sh). A node of another origin (NodeSource's
# nodejs bundles npm) is left alone: Debian's npm would conflict with it.
if ! command -v npm >/dev/null 2>&1; then
	PACKAGES="$PACKAGES nodejs npm"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: no dpkg-query: not a Debian system. Install the equivalents of:" >&2
	echo "  $(echo "$PACKAGES" | tr '\n' ' ')" >&2
	exit 0
fi

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) ||
	    status=""
	[ "$status" = installed ] || missing="$missing $pkg"
done

if [ -z "$missing" ]; then
	echo "deps: all build and test packages are installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: install them as root:  apt-get install$missing" >&2
	echo "deps: (or run this script with sudo)" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
echo "deps: done"
