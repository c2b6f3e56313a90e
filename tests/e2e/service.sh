#!/bin/sh
# journeyd as a service: READY over a real notify socket, a tick on its
# schedule, SIGHUP with a good and with a bad config, SIGTERM.
. "$(dirname "$0")/lib.sh"

config_v1() {
	write_conf <<'EOF2'
interval = "1h";
workers = 2;
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "first_ride" ];
    rules = ( { name = "first-ride"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; } ); }
);
EOF2
}
config_v1
cat > "$T/data.jsonl" <<'EOF2'
{"type":"track","userId":"u1","event":"signup","timestamp":"2026-03-01T08:00:00Z"}
{"type":"track","userId":"u1","event":"ride","timestamp":"2026-03-01T08:30:00Z"}
{"type":"track","userId":"u2","event":"signup","timestamp":"2026-03-01T08:00:00Z"}
EOF2
ctl import "$T/data.jsonl" > /dev/null

$PY "$SERVERS/notify.py" "$T/notify.sock" "$T/notify.log" &
PIDS="$PIDS $!"
wait_for "notify socket" test -S "$T/notify.sock"

NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=2000000 \
    "$JOURNEYD" -c "$CONF" --now 2026-03-01T09:00:00Z > "$T/log" 2>&1 &
JPID=$!
PIDS="$PIDS $JPID"
export WATCHDOG_PID=$JPID

wait_for "READY=1" grep -q '^READY=1$' "$T/notify.log"
ok "READY=1 sent"
wait_for "first tick" grep -q 'STATUS=last tick' "$T/notify.log"
assert_eq "tick ran: u1 moved" "first_ride" "$(sql "SELECT stage FROM members m JOIN subjects s ON s.sid = m.subject WHERE s.id = 'u1'")"
wait_for "WATCHDOG=1" grep -q '^WATCHDOG=1$' "$T/notify.log"
ok "watchdog pings"

# A good new config: RELOADING with MONOTONIC_USEC, then READY; its new
# journey runs.
sed -i 's/^journeys = (/journeys = (\n  { name = "second"; entry = "count('"'signup'"') >= 1"; stages = [ "one" ]; },/' "$CONF"
jd --check || fail "second config invalid"
kill -HUP $JPID
wait_for "RELOADING" grep -q '^RELOADING=1$' "$T/notify.log"
assert_grep "MONOTONIC_USEC with RELOADING" '^MONOTONIC_USEC=[0-9][0-9]*$' "$T/notify.log"
wait_for "reloaded" grep -q 'reloaded: 2 journey' "$T/log"
wait_for "second journey ticked" sql_is 2 "SELECT count(*) FROM members WHERE journey = 'second'"
ok "new journey evaluated after reload"

# A bad config is refused and the old one kept.
cp "$CONF" "$T/good.conf"
sed -i 's/goto = "first_ride"/goto = "nowhere"/' "$CONF"
kill -HUP $JPID
wait_for "refusal logged" grep -q 'reload refused' "$T/log"
assert_grep "error names the place" "journeyd.conf:[0-9]*: .*nowhere" "$T/log"
kill -0 $JPID || fail "daemon died on a bad reload"
ok "daemon still running with the old config"

# A config that includes a folder: libconfig would read it and exit the
# process; it is refused like any bad config, and the daemon lives on.
cp "$T/good.conf" "$CONF"
printf '@include "."\n' >> "$CONF"
set +e; jd --check > "$T/check.out" 2>&1; rc=$?; set -e
assert_eq "an @include of a folder: --check exits 1" 1 "$rc"
assert_grep "an @include of a folder: at its line" "journeyd.conf:[0-9]*: @include \".\": .* is not a file" "$T/check.out"
# refusals N: has the daemon logged N refused reloads? (A function: wait_for
# runs it again each time, where "$(grep -c ...)" would be counted once.)
refusals() { [ "$(grep -c 'reload refused' "$T/log")" -ge "$1" ]; }
kill -HUP $JPID
wait_for "second refusal logged" refusals 2
kill -0 $JPID || fail "daemon died reloading a config that includes a folder"
ok "daemon still running after a reload with an @include of a folder"

# SIGTERM: STOPPING=1 and exit 0.
kill -TERM $JPID
set +e; wait $JPID; rc=$?; set -e
assert_eq "SIGTERM exits 0" 0 "$rc"
assert_grep "STOPPING=1 sent" '^STOPPING=1$' "$T/notify.log"
assert_grep "stopped logged" 'stopped' "$T/log"

# SIGINT too.
"$JOURNEYD" -c "$T/good.conf" > "$T/log2" 2>&1 &
JPID=$!
wait_for "started" grep -q 'started:' "$T/log2"
kill -INT $JPID
set +e; wait $JPID; rc=$?; set -e
assert_eq "SIGINT exits 0" 0 "$rc"

# Under journald (JOURNAL_STREAM set), lines carry syslog priorities.
JOURNAL_STREAM=1:1 "$JOURNEYD" -c "$T/good.conf" --once > "$T/log3" 2>&1
assert_grep "syslog priority prefix" '^<[0-7]>' "$T/log3"
