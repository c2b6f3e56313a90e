#!/bin/sh
# demo.sh: the shipped example config passes --check with the shipped
# templates, and one tick over the demo data (demo/riders.jsonl) as of
# 2026-03-01T09:00:00Z puts sample customers where the data says they
# belong, mails to a Maildir, and calls the webhook (a local stand-in).
set -eu

: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(pwd)}"

fail() {
	echo "FAIL: $*"
	exit 1
}

jd=$top_builddir/journeyd
jc=$top_builddir/journeyctl
so=$(find "$top_builddir" -name email.so -path '*/.libs/*' | head -n 1)
[ -n "$so" ] || fail "email.so was not built under $top_builddir"
plugin_dir=$(dirname "$so")

tmp=$(mktemp -d)
http_pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -z "$http_pid" ] || kill "$http_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

python3 "$top_srcdir/demo/http-standin.py" --port-file "$tmp/port" \
    --log "$tmp/http.log" &
http_pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
	i=$((i + 1))
	[ "$i" -le 50 ] || fail "the HTTP stand-in did not start"
	sleep 0.1
done
port=$(cat "$tmp/port")
mkdir -p "$tmp/Maildir/new" "$tmp/Maildir/cur" "$tmp/Maildir/tmp"
echo token >"$tmp/token"
echo "whsec_$(printf 'test-secret' | base64)" >"$tmp/secret"
chmod 600 "$tmp/token" "$tmp/secret"

sed -e "s|^database *=.*|database = \"$tmp/db\";|" \
    -e "s|^#* *plugin_dir *=.*|plugin_dir = \"$plugin_dir\";|" \
    -e "s|smtp = \"[^\"]*\";|maildir = \"$tmp/Maildir\";|" \
    -e "s|templates = \"[^\"]*\";|templates = \"$top_srcdir/conf/templates\";|" \
    -e "s|url = \"https://api.hubapi.com\";|url = \"http://127.0.0.1:$port\";|" \
    -e "s|url = \"https://cs.example.com/[^\"]*\";|url = \"http://127.0.0.1:$port/hooks/journeyd\";|" \
    -e "s|token_file = \"[^\"]*\";|token_file = \"$tmp/token\";|" \
    -e "s|secret_file = \"[^\"]*\";|secret_file = \"$tmp/secret\";|" \
    "$top_srcdir/conf/journeyd.conf" >"$tmp/journeyd.conf"
conf=$tmp/journeyd.conf
if grep -nE '^[^#]*("/etc/|"/var/|https://|smtp://)' "$conf"; then
	fail "the rewritten example config still points at the system (above)"
fi

"$jd" -c "$conf" --check || fail "journeyd --check rejects conf/journeyd.conf"
echo "ok - conf/journeyd.conf passes --check"

"$jc" -c "$conf" import "$top_srcdir/demo/riders.jsonl" ||
    fail "journeyctl import rejected lines of demo/riders.jsonl"
echo "ok - demo/riders.jsonl imports"

"$jd" -c "$conf" --once --now 2026-03-01T09:00:00Z >"$tmp/tick.log" 2>&1 || {
	cat "$tmp/tick.log"
	fail "journeyd --once failed"
}
echo "ok - one tick"

# stage ID JOURNEY: the customer's stage in that journey ("-" when not in it).
stage() {
	"$jc" -c "$conf" show "$1" --json | python3 -c '
import json, sys
j = json.load(sys.stdin).get("journeys", {}).get(sys.argv[1])
print(j["stage"] if j else "-")' "$2"
}

expect() {
	got=$(stage "$1" "$2") || fail "journeyctl show $1 --json failed"
	[ "$got" = "$3" ] || fail "$1 in journey $2: stage '$got', expected '$3'"
	echo "ok - $1: $2 $3"
}

expect rider-019 rider new            # signed up, never rode
expect rider-003 rider first_ride     # a few rides
expect rider-013 rider first_ride     # many rides, all before the window
expect rider-002 rider frequent       # 8+ rides in 30 days
expect rider-004 rider pass_member    # plan 'pass' (a later identify)
expect account:acme account adoption
expect account:globex account onboarding
expect account:umbrella account expansion
expect acme-u01 seat activated
expect initech-u01 seat -             # the account is a trial
expect glow-01 glow trying
expect glow-06 glow pregnant          # opted out of Glow Mother ...
expect glow-06 glow_mother -
expect glow-04 glow_mother pregnancy  # ... the others were handed over

mails=$(find "$tmp/Maildir/new" "$tmp/Maildir/cur" -type f | wc -l)
[ "$mails" -gt 0 ] || fail "no mail in the Maildir"
echo "ok - $mails mails in the Maildir"
grep -q '"/hooks/journeyd"' "$tmp/http.log" || fail "the webhook was not called"
echo "ok - the webhook was called"
exit 0
