#!/bin/sh
# Secrets and permissions: a token read from a plugin's FILE setting never
# appears in any log line, output or the database, whatever the run (--check,
# -v, --once, the service with a reload, every journeyctl command, a config
# that @includes the token by mistake); a world-readable token file is
# warned about by name; the database and its -wal and -shm are mode 0600.
. "$(dirname "$0")/lib.sh"

[ -f "$PLUGINS/secret.so" ] || fail "secret.so (tests/plugins/secret.c) was not built"
umask 022
TOKEN="tok-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$TOKEN" > "$T/api.token"
chmod 0644 "$T/api.token"
ALL="$T/all-output"
: > "$ALL"
# run CMD...: run it, its stdout and stderr appended to $ALL.
run() { "$@" >> "$ALL" 2>&1; }

write_conf <<EOF2
interval = "1h";
plugins = {
  crm = { module = "secret"; token_file = "$T/api.token"; };
  note = { module = "log"; };
};
journeys = (
  { name = "j"; entry = "count('signup') >= 1"; stages = [ "new", "done" ];
    rules = (
      { name = "tell"; stage = "new"; when = "true";
        action = { plugin = "crm"; message = "{{token}}"; }; },
      { name = "log"; stage = "new"; when = "true";
        action = { plugin = "note"; message = "token {{token}}"; }; },
      { name = "move"; stage = "new"; when = "count('ride') >= 1"; goto = "done"; }
    ); }
);
EOF2

# A world-readable secret: a warning that names the file, never its content.
jd --check > "$T/check.out" 2>&1 || { cat "$T/check.out"; fail "--check failed"; }
cat "$T/check.out" >> "$ALL"
line=$(grep -n 'token_file' "$CONF" | head -n 1 | cut -d: -f1)
assert_grep "a world-readable token file is warned about, at the setting's FILE:LINE" \
    "^$CONF:$line: warning: \"$T/api.token\" is readable by everyone" "$T/check.out"
chmod 0600 "$T/api.token"
jd --check > "$T/check.out" 2>&1 || fail "--check failed"
cat "$T/check.out" >> "$ALL"
assert_no_grep "no warning at mode 0600" "readable by everyone" "$T/check.out"

# The database, created by journeyctl: mode 0600, and so are -wal and -shm.
printf '%s\n' \
    '{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"},"timestamp":"2026-03-01T08:00:00Z"}' \
    '{"type":"track","userId":"u1","event":"signup","timestamp":"2026-03-01T08:00:00Z"}' \
    > "$T/data.jsonl"
run ctl import "$T/data.jsonl" || fail "import failed"
assert_eq "database mode" "600" "$(stat -c %a "$DB")"

# Every kind of run, all output kept.
run jd -v --dry-run --now 2026-03-01T09:00:00Z || fail "dry run failed"
run jd -v --once --now 2026-03-01T09:00:00Z || fail "--once failed"
assert_eq "both actions done" "2" "$(sql "SELECT count(*) FROM outbox WHERE status = 2")"
assert_grep "the plugin ran with the token" "with a token of ${#TOKEN} bytes" "$ALL"

"$JOURNEYD" -v -c "$CONF" --now 2026-03-01T09:00:00Z >> "$ALL" 2>&1 &
JPID=$!
PIDS="$PIDS $JPID"
wait_for "the daemon's first tick" grep -q "tick" "$ALL"
wait_for "-wal and -shm" test -f "$DB-wal" -a -f "$DB-shm"
assert_eq "-wal mode" "600" "$(stat -c %a "$DB-wal")"
assert_eq "-shm mode" "600" "$(stat -c %a "$DB-shm")"
printf '%s\n' '{"type":"track","userId":"u1","event":"ride","timestamp":"2026-03-01T08:30:00Z"}' |
    run ctl import - || fail "import during the service run failed"
kill -HUP $JPID
wait_for "reload" grep -q "reloaded" "$ALL"
kill -TERM $JPID
wait $JPID || fail "the daemon did not stop cleanly"

for c in status "show u1" "show u1 --json" "explain u1" report outbox \
    "outbox --dead"; do
	# shellcheck disable=SC2086 # one word per argument
	run ctl $c || fail "journeyctl $c failed"
done

# A config that @includes the token by mistake: the error shows no content.
cp "$CONF" "$T/good.conf"
printf '@include "api.token"\n' >> "$CONF"
jd --check >> "$ALL" 2>&1 && fail "a config including the token passed --check"
cp "$T/good.conf" "$CONF"
# A bad token file: the error names the file, not what it holds.
printf 'not a token at all %s\n' "$TOKEN" > "$T/bad.token"
chmod 000 "$T/bad.token"
sed "s|$T/api.token|$T/bad.token|" "$T/good.conf" > "$CONF"
if [ "$(id -u)" -ne 0 ]; then
	jd --check >> "$ALL" 2>&1 && fail "an unreadable token file passed --check"
fi

lines=$(wc -l < "$ALL")
[ "$lines" -gt 20 ] || { cat "$ALL"; fail "too little output to judge ($lines lines)"; }
ok "$lines lines of output collected"
assert_no_grep "the token is in no log line or output" "$TOKEN" "$ALL"
if grep -a -q -e "$TOKEN" "$DB" "$DB-wal" 2>/dev/null; then
	fail "the token is in the database"
fi
ok "the token is not in the database"
echo "secrets: all passed"
