#!/bin/sh
# --help and usage errors (SPEC §3, §18): journeyd --help and journeyctl
# --help print the whole usage on stdout and exit 0; no command, an unknown
# one, or a command's bad arguments print what was wrong and the usage on
# stderr and exit 2, before any config is read. journeyctl report --html -
# writes the HTML to standard output. Messages say what is wrong and what
# to do: the config file's errno text, a database folder that is missing,
# an id that is an account's.
. "$(dirname "$0")/lib.sh"

# run NAME STATUS CMD...: run it (stdout in $T/out, stderr in $T/err) and
# check its exit status.
run() {
	name=$1 want=$2
	shift 2
	set +e
	"$@" > "$T/out" 2> "$T/err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2;
	    fail "$name: exit $rc, expected $want"; }
	ok "$name: exit $want"
}

# --help: the whole usage on stdout, exit 0, nothing on stderr.
run "journeyd --help" 0 "$JOURNEYD" --help
for o in -c --once --dry-run --now --check --version --verbose --help; do
	grep -q -e " $o" "$T/out" || fail "journeyd --help lacks $o"
done
assert_eq "journeyd --help: nothing on stderr" "" "$(cat "$T/err")"
run "journeyd -h" 0 "$JOURNEYD" -h
run "journeyd with an argument" 2 "$JOURNEYD" extra
assert_grep "journeyd: the argument named" 'unexpected argument "extra"' "$T/err"
assert_eq "journeyd usage error: nothing on stdout" "" "$(cat "$T/out")"

run "journeyctl --help" 0 "$JOURNEYCTL" --help
for c in import status show explain report outbox retry backup; do
	grep -q "^  $c" "$T/out" || fail "journeyctl --help lacks $c"
done
assert_eq "journeyctl --help: nothing on stderr" "" "$(cat "$T/err")"
run "journeyctl help" 0 "$JOURNEYCTL" help
run "journeyctl report --help" 0 "$JOURNEYCTL" report --help
assert_grep "a command's --help" "usage: journeyctl \[-c FILE\] report \[--html FILE\]" "$T/out"

# Usage errors: exit 2, the reason and the usage on stderr, before the
# config is read (there is none here).
run "journeyctl alone" 2 "$JOURNEYCTL" -c "$T/none.conf"
assert_grep "no command: said" "a command is missing" "$T/err"
assert_grep "no command: the usage" "^usage: journeyctl" "$T/err"
assert_eq "no command: nothing on stdout" "" "$(cat "$T/out")"
run "unknown command" 2 "$JOURNEYCTL" -c "$T/none.conf" frobnicate
assert_grep "unknown command named" 'unknown command "frobnicate"' "$T/err"
# usage_error NAME PATTERN ARGS...: exit 2 with PATTERN and the command's
# usage line on stderr.
usage_error() {
	name=$1 pattern=$2
	shift 2
	run "$name" 2 "$JOURNEYCTL" -c "$T/none.conf" "$@"
	assert_grep "$name: says what" "$pattern" "$T/err"
	assert_grep "$name: the command's usage" "^usage: journeyctl \[-c FILE\] $1" "$T/err"
	assert_no_grep "$name: no config read" "cannot read" "$T/err"
}
usage_error "report --html without FILE" "report: --html: FILE is missing" report --html
usage_error "report --html --now" "report: --html: FILE is missing" report --html --now @1
usage_error "show without ID" "show: ID is missing" show
usage_error "show with two ids" 'show: unexpected argument "b"' show a b
usage_error "explain without ID" "explain: ID is missing" explain --now @1
usage_error "explain bad --now" 'explain: --now: bad time "soon"' explain u1 --now soon
usage_error "outbox unknown option" "outbox: unknown option --deadly" outbox --deadly
usage_error "retry without ID" "retry: ID or --dead is missing" retry
usage_error "retry with both" "retry: give ID or --dead, not both" retry u1 --dead
usage_error "status with an argument" 'status: unexpected argument "now"' status now
usage_error "backup without FILE" "backup: FILE is missing" backup
usage_error "show --json=x" "show: --json takes no value" show u1 --json=x

# Messages that say what is wrong and what to do.
run "a missing config" 1 "$JOURNEYCTL" -c "$T/none.conf" status
assert_grep "the config: errno text" "none.conf: cannot read the config file: No such file or directory" "$T/err"
run "journeyd --check, a missing config" 1 "$JOURNEYD" -c "$T/none.conf" --check
assert_grep "journeyd: errno text" "cannot read the config file: No such file or directory" "$T/err"

# A config with one account journey.
account_conf() {
	write_conf <<'EOF2'
journeys = ( { name = "j"; subject = "account"; entry = "true";
  stages = [ "a" ]; rules = (); } );
EOF2
}
account_conf
sed -i "s|^database = .*|database = \"$T/gone/journeyd.db\";|" "$CONF"
run "a database in a missing folder" 1 "$JOURNEYCTL" -c "$CONF" status
assert_grep "the missing folder named" "unable to open database file: the folder $T/gone does not exist" "$T/err"
run "journeyd, the same" 1 "$JOURNEYD" -c "$CONF" --once
assert_grep "journeyd: the missing folder named" "the folder $T/gone does not exist" "$T/err"

account_conf
printf '%s\n' \
    '{"type":"group","userId":"ann","groupId":"globex","traits":{"name":"Globex"},"timestamp":"2026-03-01T08:00:00Z"}' |
    ctl import > /dev/null
run "show an account's id as a user" 1 ctl show globex
assert_grep "the account suggested" 'no user "globex"; there is an account "globex": journeyctl show account:globex' "$T/err"
run "explain it" 1 ctl explain globex
assert_grep "explain suggests it too" "journeyctl explain account:globex" "$T/err"
run "show a user's id as an account" 1 ctl show account:ann
assert_grep "the user suggested" 'no account "ann"; there is a user "ann": journeyctl show ann' "$T/err"
run "show an unknown id" 1 ctl show nobody
assert_no_grep "no suggestion for an unknown id" "there is" "$T/err"
run "show account:globex" 0 ctl show account:globex

# report --html -: the page on stdout, and nothing else there.
jd --once --now 2026-03-01T09:00:00Z 2> /dev/null
run "report --html -" 0 ctl report --html -
assert_eq "report --html -: the page first" "<!DOCTYPE html>" "$(head -n 1 "$T/out")"
assert_eq "report --html -: the page last" "</html>" "$(tail -n 1 "$T/out")"
assert_no_grep "report --html -: no text report mixed in" "^report at" "$T/out"
[ ! -e "./-" ] && [ ! -e "./-.tmp" ] || fail "report --html - wrote a file named -"
run "report --html FILE" 0 ctl report --html "$T/r.html"
assert_grep "report --html FILE: the text on stdout" "^report at" "$T/out"
assert_grep "report --html FILE: the page" "</html>" "$T/r.html"
run "report --html into a missing folder" 1 ctl report --html "$T/nowhere/r.html"
assert_grep "a missing folder: the file named as given, and what to do" \
    "report --html: cannot write \"$T/nowhere/r.html\": No such file or directory (its folder does not exist" "$T/err"
assert_no_grep "a missing folder: no temporary file named" "r.html.tmp" "$T/err"
