#!/bin/sh
# journeyd --check: a good config prints nothing and exits 0; each kind of
# mistake is reported as FILE:LINE: message with exit 1.
. "$(dirname "$0")/lib.sh"

good() {
	write_conf <<'EOF2'
interval = "1m";
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "rider";
    entry = "count('signup') >= 1";
    stages = [ "new", "first_ride" ];
    rules = (
      { name = "first-ride"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; },
      { name = "nudge"; stage = "new"; when = "stage_age >= 2d";
        action = { plugin = "note"; }; }
    ); }
);
EOF2
}

good
jd --check > "$T/out" 2>&1 || { cat "$T/out"; fail "good config refused"; }
assert_eq "good config prints nothing" "" "$(cat "$T/out")"

# expect_problem NAME LINE PATTERN SED-EXPRESSION
expect_problem() {
	good
	sed -i "$4" "$CONF"
	set +e
	jd --check > "$T/out" 2>&1
	rc=$?
	set -e
	assert_eq "$1: exit 1" 1 "$rc"
	assert_grep "$1: file:line" "^$CONF:$2: " "$T/out"
	assert_grep "$1: message" "$3" "$T/out"
}

# Line numbers: the config starts with database (1) and plugin_dir (2).
expect_problem "unknown key" 3 "unknown setting 'intervall'" 's/^interval/intervall/'
expect_problem "bad duration" 3 "bad duration" 's/"1m"/"1 minute"/'
expect_problem "goto to a missing stage" 10 'no stage "frequent"' 's/goto = "first_ride"/goto = "frequent"/'
expect_problem "missing plugin instance" 12 'no plugin instance "mail"' 's/plugin = "note"/plugin = "mail"/'
expect_problem "bad expression" 10 "rule \"first-ride\": expected ')' at column 20" "s/count('ride') >= 1/count('ride') >= (1/"
expect_problem "empty when" 11 "'when' is empty" 's/when = "stage_age >= 2d"/when = " "/'
expect_problem "unknown plugin module" 4 'no module "nosuch" (nosuch.so) in' 's/module = "log"/module = "nosuch"/'
expect_problem "module with a path" 4 'must be a plain name' 's|module = "log"|module = "../log"|'
expect_problem "unknown plugin setting" 4 "unknown setting 'colour'" 's/module = "log";/module = "log"; colour = "red";/'
expect_problem "wrong type" 7 "'entry' must be a string" "s/entry = \"count('signup') >= 1\"/entry = 5/"
expect_problem "duplicate rule" 11 'duplicate rule "first-ride"' 's/name = "nudge"/name = "first-ride"/'
expect_problem "syntax error" 3 "syntax error" 's/interval = "1m";/interval = = "1m";/'
expect_problem "type error" 10 "string" "s/count('ride') >= 1/count('ride') >= 'x'/"
expect_problem "a PostgreSQL database" 1 "'database': a PostgreSQL connection string; this build of journeyd keeps its data in SQLite only" 's|^database = .*|database = "postgresql://jd:s3cret@127.0.0.1/journeyd";|'
assert_no_grep "a PostgreSQL database: its password not printed" "s3cret" "$T/out"
expect_problem "a PostgreSQL key=value string" 1 "'database': a PostgreSQL connection string" 's|^database = .*|database = "host=/run/postgresql dbname=journeyd";|'
good
sed -i "s|^database = .*|database = \"$T/host=a/dbname=b.db\";|" "$CONF"
jd --check > "$T/out" 2>&1 || { cat "$T/out"; fail "a file's path with '=' in it refused"; }
ok "a file's path with host= in it is a file's path"

# Experiments and timing (SPEC §15), on the nudge rule's line 12.
A='action = { plugin = "note"; };'
V='{ name = "a"; weight = 1; action = { plugin = "note"; }; }'
expect_problem "weight not positive" 12 "rule \"nudge\": variant \"a\": 'weight' must be a whole number from 1" "s/$A/variants = ( { name = \"a\"; weight = 0; $A } );/"
expect_problem "negative weight" 12 "rule \"nudge\": variant \"a\": 'weight'" "s/$A/variants = ( { name = \"a\"; weight = -2; $A } );/"
expect_problem "duplicate variant" 12 "rule \"nudge\": duplicate variant \"a\"" "s/$A/variants = ( $V, $V );/"
expect_problem "action and variants" 12 "rule \"nudge\": has both 'action' and 'variants'" "s/$A/$A variants = ( $V );/"
expect_problem "empty window" 12 "rule \"nudge\": window: empty hours \"09:00-09:00\"" "s/$A/$A window = { hours = \"09:00-09:00\"; };/"
expect_problem "unknown day" 12 "rule \"nudge\": window: unknown day in \"mon-fry\"" "s/$A/$A window = { days = \"mon-fry\"; };/"
expect_problem "bad delay" 12 "rule \"nudge\": bad delay \"2 hours\"" "s/$A/$A delay = \"2 hours\";/"
# A window past midnight, with days and a delay, and weighted variants: good.
good
sed -i "s/$A/variants = ( { name = \"a\"; weight = 2; $A }, { name = \"b\"; $A } ); window = { hours = \"22:00-06:00\"; days = \"fri-mon\"; }; delay = \"2h\";/" "$CONF"
jd --check > "$T/out" 2>&1 || { cat "$T/out"; fail "variants, window and delay refused"; }
assert_eq "variants, a window past midnight, a delay: nothing to say" "" "$(cat "$T/out")"

# Several problems are all reported.
good
sed -i -e 's/^interval/intervall/' -e 's/goto = "first_ride"/goto = "nowhere"/' "$CONF"
set +e; jd --check > "$T/out" 2>&1; set -e
assert_eq "two problems, two lines" 2 "$(grep -c "^$CONF:" "$T/out")"

# A missing file.
set +e; "$JOURNEYD" -c "$T/nope.conf" --check > "$T/out" 2>&1; rc=$?; set -e
assert_eq "missing config: exit 1" 1 "$rc"
assert_grep "missing config named" "nope.conf" "$T/out"

# Usage errors exit 2.
set +e; "$JOURNEYD" --bogus > /dev/null 2>&1; rc=$?; set -e
assert_eq "unknown option: exit 2" 2 "$rc"
"$JOURNEYD" --version | grep -q '^journeyd ' || fail "--version"
ok "--version"

# A dry run changes nothing: without a database it creates none.
good
[ ! -e "$DB" ] || fail "the test began with a database"
set +e; jd --dry-run --now 2026-03-01T09:00:00Z > "$T/out" 2>&1; rc=$?; set -e
assert_eq "a dry run without a database: exit 0" 0 "$rc"
assert_grep "a dry run without a database: said" "no database at \"$DB\" yet: nothing to evaluate" "$T/out"
[ ! -e "$DB" ] || fail "a dry run created the database"
ok "a dry run creates no database"

# @include: a file included from many places, or from itself, is walked
# once (libconfig then says the nesting is too deep); an @include inside a
# block comment is no include.
good
printf '@include "fan.cfg"\n@include "fan.cfg"\n@include "fan.cfg"\n@include "fan.cfg"\n@include "fan.cfg"\n@include "fan.cfg"\n@include "fan.cfg"\n@include "fan.cfg"\n' > "$T/fan.cfg"
printf '@include "fan.cfg"\n' >> "$CONF"
set +e; jd --check > "$T/out" 2>&1; rc=$?; set -e
assert_eq "an include loop: exit 1" 1 "$rc"
assert_grep "an include loop: libconfig's message" "include file nesting too deep" "$T/out"
good
printf '/*\n@include "."\n*/\n' >> "$CONF"
jd --check > "$T/out" 2>&1 || { cat "$T/out"; fail "an @include in a comment was read"; }
ok "an @include of a folder inside a block comment is no include"
