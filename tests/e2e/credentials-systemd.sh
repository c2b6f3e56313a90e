#!/bin/sh
# Secrets under systemd, through systemd itself: journeyd run by
# systemd-run with LoadCredential=api.token:FILE finds the token through
# token_file = "$CREDENTIALS_DIRECTORY/api.token" (--check, then a tick
# whose action the plugin performs with it). Needs systemd as PID 1 and
# root: skipped (77) elsewhere; tests/e2e/credentials.sh tests the same
# with CREDENTIALS_DIRECTORY set by hand.
. "$(dirname "$0")/lib.sh"

if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ]; then
	echo "SKIP: systemd is not PID 1 here"
	exit 77
fi
state=$(systemctl is-system-running 2>/dev/null || true)
if [ "$(id -u)" -ne 0 ] || ! command -v systemd-run >/dev/null 2>&1 ||
    { [ "$state" != running ] && [ "$state" != degraded ]; }; then
	echo "SKIP: needs root, systemd-run and a running systemd ($state)"
	exit 77
fi
[ -f "$PLUGINS/secret.so" ] || fail "secret.so (tests/plugins/secret.c) was not built"

mkdir -m 700 "$T/secrets"
TOKEN="tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$TOKEN" > "$T/secrets/api.token"
chmod 600 "$T/secrets/api.token"
write_conf <<'EOF2'
plugins = { crm = { module = "secret"; token_file = "$CREDENTIALS_DIRECTORY/api.token"; }; };
journeys = ( { name = "j"; entry = "count('signup') >= 1"; stages = [ "new" ];
  rules = ( { name = "tell"; when = "true"; action = { plugin = "crm"; }; } ); } );
EOF2
printf '%s\n' '{"type":"track","userId":"u1","event":"signup","timestamp":"2026-03-01T08:00:00Z"}' |
    ctl import > /dev/null

# unit ARGS...: journeyd in a transient service with the credential.
unit() {
	systemd-run --quiet --wait --pipe --collect \
	    -p "LoadCredential=api.token:$T/secrets/api.token" \
	    "$JOURNEYD" -c "$CONF" "$@"
}
unit --check > "$T/out" 2>&1 || { cat "$T/out"; fail "--check under systemd-run"; }
assert_eq "--check under systemd: nothing printed" "" "$(cat "$T/out")"
unit -v --once --now 2026-03-01T09:00:00Z > "$T/log" 2>&1 ||
    { cat "$T/log"; fail "--once under systemd-run"; }
assert_grep "the plugin read the credential" "with a token of ${#TOKEN} bytes" "$T/log"
assert_no_grep "the token is never logged" "$TOKEN" "$T/log"
assert_eq "the action done" "2" "$(sql "SELECT status FROM outbox")"
