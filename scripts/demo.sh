#!/bin/sh
# demo.sh: build journeyd and run it on the example config over the bundled
# sample data (demo/riders.jsonl), with no mail server and no network:
#   - mail goes to the Maildir demo-run/Maildir,
#   - the HubSpot and webhook instances point at a tiny local HTTP stand-in
#     (demo/http-standin.py on 127.0.0.1), which logs every call.
# The build is out of tree, in build-demo/; everything the run writes is in
# demo-run/ (removed and made afresh each time).
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
build=$top/build-demo
run=$top/demo-run
now1=2026-03-01T09:00:00Z
now2=2026-03-15T17:00:00Z

say() {
	printf '\n== %s\n' "$*"
}

./scripts/deps.sh demo

# ---- Build --------------------------------------------------------------
say "Building journeyd (out of tree, in build-demo/)"
if [ -f config.status ]; then
	echo "the source tree is configured in place; make distclean first"
	make distclean >/dev/null 2>&1 || rm -f config.status
fi
./autogen.sh
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
	(cd "$build" && "$top/configure" --quiet)
fi
(cd "$build" && make -j2 >/dev/null)
jd=$build/journeyd
jc=$build/journeyctl
plugin_dir=$(find "$build" -name email.so -path '*/.libs/*' | head -n 1)
if [ -z "$plugin_dir" ]; then
	echo "demo: the email plugin (email.so) was not built in $build" >&2
	exit 1
fi
plugin_dir=$(dirname "$plugin_dir")
echo "built $jd, $jc and the plugins in $plugin_dir"

# ---- A config for a local run -------------------------------------------
rm -rf "$run"
mkdir -p "$run/Maildir/new" "$run/Maildir/cur" "$run/Maildir/tmp"
conf=$run/journeyd.conf

http_pid=
cleanup() {
	if [ -n "$http_pid" ]; then
		kill "$http_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
python3 demo/http-standin.py --port-file "$run/http.port" \
    --log "$run/http.log" &
http_pid=$!
i=0
while [ ! -s "$run/http.port" ]; do
	i=$((i + 1))
	if [ "$i" -gt 50 ]; then
		echo "demo: the local HTTP stand-in did not start" >&2
		exit 1
	fi
	sleep 0.1
done
port=$(cat "$run/http.port")

echo "demo-crm-token-not-secret" >"$run/hubspot.token"
echo "whsec_$(printf 'journeyd-demo-webhook-secret' | base64)" \
    >"$run/webhook.secret"
chmod 600 "$run/hubspot.token" "$run/webhook.secret"

sed -e "s|^database *=.*|database = \"$run/journeyd.db\";|" \
    -e "s|^#* *plugin_dir *=.*|plugin_dir = \"$plugin_dir\";|" \
    -e "s|^#* *metrics_file *=.*|metrics_file = \"$run/journeyd.prom\";|" \
    -e "s|smtp = \"[^\"]*\";|maildir = \"$run/Maildir\";|" \
    -e "s|templates = \"[^\"]*\";|templates = \"$top/conf/templates\";|" \
    -e "s|url = \"https://api.hubapi.com\";|url = \"http://127.0.0.1:$port\";|" \
    -e "s|url = \"https://cs.example.com/[^\"]*\";|url = \"http://127.0.0.1:$port/hooks/journeyd\";|" \
    -e "s|token_file = \"[^\"]*\";|token_file = \"$run/hubspot.token\";|" \
    -e "s|secret_file = \"[^\"]*\";|secret_file = \"$run/webhook.secret\";|" \
    conf/journeyd.conf >"$conf"
# Nothing may still point at the system or the internet.
if grep -nE '^[^#]*("/etc/|"/var/|https://|smtp://)' "$conf"; then
	echo "demo: $conf still has system paths or remote URLs (above):" \
	    "update the rewrites in scripts/demo.sh" >&2
	exit 1
fi

say "The config: conf/journeyd.conf, rewritten for a local run as $conf"
cat <<EOF
  database      $run/journeyd.db
  plugins from  $plugin_dir
  templates     $top/conf/templates
  mail          to the Maildir $run/Maildir (instead of SMTP)
  HubSpot, webhook
                to the local stand-in http://127.0.0.1:$port
                (every call logged in $run/http.log)
EOF
"$jd" -c "$conf" --check
echo "journeyd --check: the config, its rules and its plugins are valid"

# ---- Import -------------------------------------------------------------
say "Importing the sample data: demo/riders.jsonl ($(wc -l <demo/riders.jsonl) lines)"
echo "(riders, B2B accounts with their users, Glow users; a few lines are"
echo "duplicates, which are recorded once)"
"$jc" -c "$conf" import demo/riders.jsonl ||
    echo "(journeyctl import reported rejected lines: see above)"

# ---- The first tick -----------------------------------------------------
say "One tick as of $now1, then every due action is performed"
echo "journeyd -c $conf --once --now $now1"
if "$jd" -c "$conf" --once --now "$now1" >"$run/tick1.log" 2>&1; then
	echo "done; the daemon's log: $run/tick1.log ($(wc -l <"$run/tick1.log") lines), last lines:"
	tail -n 8 "$run/tick1.log" | sed 's/^/  | /'
else
	cat "$run/tick1.log"
	echo "demo: journeyd --once failed" >&2
	exit 1
fi

say "Where everyone stands: journeyctl status"
"$jc" -c "$conf" status
cat <<EOF

How to read it: riders sit on the ladder (signed up -> first ride ->
frequent -> pass member) according to what they did; B2B accounts are in
onboarding or further, and their users in "seat"; pregnant Glow users are
handed to Glow Mother (not the one who opted out). Outbox actions still
pending wait for quiet hours (21:00-08:00 in the customer's time zone: it
is 04:00 in New York) and go out on a later tick; held ones were not sent
on purpose (unsubscribed, the weekly cap, or the nudge's 10% holdout).
EOF

say "Mail delivered to $run/Maildir"
python3 demo/summary.py mail "$run/Maildir" "$run/seen"
say "Calls to the CRM and the webhook (local stand-in)"
python3 demo/summary.py http "$run/http.log"
calls1=$(wc -l <"$run/http.log")

# ---- Two weeks later ----------------------------------------------------
say "Two weeks later: one tick as of $now2 (no new data)"
echo "Accounts still onboarding after the expected 14 days are now stalled:"
echo "the CRM gets a task. Users handed to Glow Mother get its welcome; mail"
echo "held back by quiet hours goes out (it is daytime in New York)."
if "$jd" -c "$conf" --once --now "$now2" >"$run/tick2.log" 2>&1; then
	echo "done; the daemon's log: $run/tick2.log"
else
	cat "$run/tick2.log"
	echo "demo: journeyd --once failed" >&2
	exit 1
fi
"$jc" -c "$conf" status
say "Mail delivered on the second tick"
python3 demo/summary.py mail "$run/Maildir" "$run/seen"
say "CRM and webhook calls on the second tick"
python3 demo/summary.py http "$run/http.log" "$calls1"

# ---- One customer's story ----------------------------------------------
rider=$(grep -m 1 '"plan":"pass"' demo/riders.jsonl |
    sed 's/.*"userId":"\([^"]*\)".*/\1/')
say "One rider's story: journeyctl show $rider"
"$jc" -c "$conf" show "$rider"
say "Why, rule by rule: journeyctl explain account:globex --now $now2"
"$jc" -c "$conf" explain account:globex --now "$now2"

if [ -f "$run/journeyd.prom" ]; then
	say "Metrics ($run/journeyd.prom, for node-exporter)"
	head -n 20 "$run/journeyd.prom"
fi

say "Done"
cat <<EOF
Everything is in $run/: the config, the database, the Maildir, the
daemon's logs and the stand-in's call log. Look further with:
  $jc -c $conf report
  $jc -c $conf outbox
  $jc -c $conf show glow-04
EOF
