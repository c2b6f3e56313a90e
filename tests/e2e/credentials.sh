#!/bin/sh
# Secrets under systemd, by hand (tests/e2e/credentials-systemd.sh does it
# through systemd-run): a plugin's FILE setting written
# "$CREDENTIALS_DIRECTORY/NAME" is resolved against that variable, and the
# plugin reads the resolved file; unset, --check says so (and what to do)
# at the setting's line. A secret file that is missing is named with what
# to put there, never followed by a contradictory "is required".
. "$(dirname "$0")/lib.sh"

[ -f "$PLUGINS/secret.so" ] || fail "secret.so (tests/plugins/secret.c) was not built"
# conf TOKEN_FILE: the test config with that token_file.
conf() {
	write_conf <<EOF2
plugins = { crm = { module = "secret"; token_file = "$1"; }; };
journeys = ( { name = "j"; entry = "count('signup') >= 1"; stages = [ "new" ];
  rules = ( { name = "tell"; when = "true"; action = { plugin = "crm"; }; } ); } );
EOF2
}
# check NAME STATUS: journeyd --check, its output in $T/out.
check() {
	set +e
	jd --check > "$T/out" 2>&1
	rc=$?
	set -e
	[ "$rc" = "$2" ] || { cat "$T/out" >&2; fail "$1: exit $rc, expected $2"; }
	ok "$1: exit $2"
}
unset CREDENTIALS_DIRECTORY
mkdir -m 700 "$T/creds"

# shellcheck disable=SC2016 # the config's text, not a shell variable
conf '$CREDENTIALS_DIRECTORY/api.token'
check "CREDENTIALS_DIRECTORY unset" 1
assert_grep "unset: said, at the setting's line" \
    "journeyd.conf:3: plugin instance 'crm': 'token_file' \"\\\$CREDENTIALS_DIRECTORY/api.token\": CREDENTIALS_DIRECTORY is not set" "$T/out"
assert_grep "unset: what to do" "CREDENTIALS_DIRECTORY=.*journeyd --check" "$T/out"
assert_no_grep "unset: no contradictory second message" "is required" "$T/out"
assert_eq "unset: one message" 1 "$(wc -l < "$T/out")"

export CREDENTIALS_DIRECTORY="$T/creds"
check "the credential missing" 1
assert_grep "missing: named, with what to put there" \
    "'token_file' \"$T/creds/api.token\" is missing: put the token there, mode 0600" "$T/out"
assert_grep "missing: where systemd takes it from" "LoadCredential=api.token:FILE" "$T/out"
assert_no_grep "missing: no contradictory second message" "is required" "$T/out"

TOKEN="tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$TOKEN" > "$T/creds/api.token"
chmod 600 "$T/creds/api.token"
check "the credential there" 0
assert_eq "nothing printed" "" "$(cat "$T/out")"
printf '%s\n' '{"type":"track","userId":"u1","event":"signup","timestamp":"2026-03-01T08:00:00Z"}' |
    ctl import > /dev/null
jd -v --once --now 2026-03-01T09:00:00Z > "$T/log" 2>&1 || { cat "$T/log"; fail "--once"; }
assert_grep "the plugin read the resolved file" "with a token of ${#TOKEN} bytes" "$T/log"
assert_no_grep "the token is never logged" "$TOKEN" "$T/log"

# shellcheck disable=SC2016
conf '${CREDENTIALS_DIRECTORY}/api.token'
check "the \${CREDENTIALS_DIRECTORY} form" 0
export CREDENTIALS_DIRECTORY="$T/creds/"
# shellcheck disable=SC2016
conf '$CREDENTIALS_DIRECTORY/api.token'
check "a trailing slash in the variable" 0
export CREDENTIALS_DIRECTORY=""
check "CREDENTIALS_DIRECTORY empty" 1
assert_grep "empty: as unset" "CREDENTIALS_DIRECTORY is not set" "$T/out"
export CREDENTIALS_DIRECTORY="$T/creds"

# shellcheck disable=SC2016
conf '$HOME/api.token'
check "another variable" 1
assert_grep "another variable: refused" 'only \$CREDENTIALS_DIRECTORY/ is expanded' "$T/out"
# shellcheck disable=SC2016
conf '$CREDENTIALS_DIRECTORY/'
check "no credential name" 1
assert_grep "no name: refused" "names no credential" "$T/out"

# A plain path: the same messages, without systemd's part.
conf "$T/missing.token"
check "a plain path missing" 1
assert_grep "plain: named, with what to put there" \
    "'token_file' \"$T/missing.token\" is missing: put the token there, mode 0600\$" "$T/out"
assert_no_grep "plain: no contradictory second message" "is required" "$T/out"
conf "$T/creds"
check "a folder" 1
assert_grep "a folder: said" "is a folder, not a file" "$T/out"

# Every problem at once: a plugin's secret and the HTTP API's key both
# missing are both reported, not the second only once the first is fixed.
write_conf <<EOF2
http = { listen = "127.0.0.1:0"; write_key_file = "$T/creds/write-keys"; };
plugins = { crm = { module = "secret"; token_file = "$T/creds/none.token"; }; };
journeys = ( { name = "j"; entry = "count('signup') >= 1"; stages = [ "new" ];
  rules = ( { name = "tell"; when = "true"; action = { plugin = "crm"; }; } ); } );
EOF2
check "a plugin's secret and the HTTP key missing" 1
assert_grep "both: the plugin's" "'token_file' \"$T/creds/none.token\" is missing" "$T/out"
assert_grep "both: the HTTP API's" "write-keys" "$T/out"
