#!/bin/sh
# deps.sh [demo|test]: install the Debian 12 packages journeyd needs.
#   demo   what building journeyd and running its demo needs (the compiler,
#          autotools, the libraries (libjansson-dev: JSON in the plugins;
#          libmicrohttpd and zlib: the HTTP API and its gzip bodies),
#          python3 for the demo's local HTTP stand-in, tzdata for quiet
#          hours in customers' time zones);
#   test   that and what the whole test suite needs (the default): cmocka,
#          aiosmtpd, systemd-analyze, clang (libFuzzer), valgrind, mandoc
#          (the man pages' lint), openssl (TLS certificates), chromium
#          (big: the test that renders the HTML report), node and npm (the
#          real Segment and RudderStack clients the HTTP API's tests drive).
# Only what is missing is installed (apt-get update runs once, and only
# then), so it is quick when everything is there. As a user other than
# root it only says what to install.
set -eu

DEMO="build-essential autoconf automake libtool pkg-config
libsqlite3-dev libconfig-dev libcurl4-openssl-dev libssl-dev libjansson-dev
libmicrohttpd-dev zlib1g-dev python3 tzdata"
TEST="$DEMO sqlite3 openssl libcmocka-dev python3-aiosmtpd systemd clang time
valgrind mandoc chromium"

case "${1:-test}" in
demo) PACKAGES=$DEMO ;;
test) PACKAGES=$TEST ;;
*)
	echo "usage: deps.sh [demo|test]" >&2
	exit 2
	;;
esac
what=${1:-test}

# node and npm run the real Segment and RudderStack clients of the HTTP
# API's tests (scripts/npm-deps.sh). A node of another origin (NodeSource's
# nodejs bundles npm) is left alone: Debian's npm would conflict with it.
if [ "$what" = test ] && ! command -v npm >/dev/null 2>&1; then
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
	echo "deps: all the packages the $what needs are installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: install them as root:  apt-get install$missing" >&2
	echo "deps: (or run this script with sudo)" >&2
	exit 1
fi

echo "deps: installing what the $what needs:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
echo "deps: done"
