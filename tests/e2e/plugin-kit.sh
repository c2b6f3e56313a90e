#!/bin/sh
# The plugin author kit: make install puts the header, journeyd-plugin.pc,
# the binaries, plugins, config and unit in place; the example plugin builds
# out of tree with pkg-config against the installed header and runs in the
# daemon (--check checks it without starting it); a plugin of another ABI
# major is refused, naming both versions.
. "$(dirname "$0")/lib.sh"

make -s -C "$top_builddir" install DESTDIR="$T/root" > "$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "make install"; }
for f in journeyd journeyctl plugin.h journeyd-plugin.pc log.so handoff.so \
    journeyd.conf journeyd.service; do
	[ -n "$(find "$T/root" -name "$f")" ] || fail "make install: no $f"
done
ok "make install installs binaries, plugins, header, .pc, config and unit"

pc=$(dirname "$(find "$T/root" -name journeyd-plugin.pc)")
cflags=$(PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$T/root" \
    pkg-config --cflags journeyd-plugin)
case "$cflags" in *"$T/root"*) ;; *) fail "pkg-config --cflags: $cflags" ;; esac
ok "pkg-config --cflags journeyd-plugin"

mkdir "$T/plugins"
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Wextra -Werror -fPIC -shared $cflags \
    -o "$T/plugins/hello.so" "$top_srcdir/examples/hello/hello.c" -lpthread ||
    fail "the example plugin does not build against the installed header"
ok "the example plugin builds out of tree"

# The author's own folder first (plugin_path), the installed plugins
# (plugin_dir, here the DESTDIR's) after it: both load.
installed=$(dirname "$(find "$T/root" -name log.so)")
cat > "$CONF" <<EOF2
database = "$DB";
plugin_path = [ "$T/empty", "$T/plugins" ];
plugin_dir = "$installed";
plugins = { greet = { module = "hello"; file = "$T/greetings.txt"; };
  log = { }; };
journeys = ( { name = "rider"; entry = "count('signup') >= 1"; stages = [ "new" ];
  rules = ( { name = "welcome"; when = "true";
    action = { plugin = "greet"; greeting = "Hello {{first_name}}, welcome to {{journey}}"; }; } ); } );
EOF2
mkdir "$T/empty"
jd --check || fail "--check with the example plugin"
ok "plugin_path: an own plugin and a built-in one load side by side"
[ ! -e "$T/greetings.txt" ] || fail "--check started the plugin (its init() ran)"
ok "--check checks the example plugin without starting it"
printf '%s\n' '{"type":"identify","userId":"u1","traits":{"first_name":"Ann"}}' \
    '{"type":"track","userId":"u1","event":"signup","timestamp":"2026-03-01T08:00:00Z"}' |
    ctl import > /dev/null
jd --once --now 2026-03-01T09:00:00Z 2> "$T/log"
id=$(sql "SELECT id FROM outbox")
assert_eq "the plugin performed the action" "$id Hello Ann, welcome to rider" "$(cat "$T/greetings.txt")"

# A setting the plugin does not declare is refused with its line.
sed -i 's/file = /colour = "red"; file = /' "$CONF"
set +e; jd --check > "$T/out" 2>&1; rc=$?; set -e
assert_eq "unknown plugin setting: exit 1" 1 "$rc"
assert_grep "unknown plugin setting named" "journeyd.conf:4: .*unknown setting 'colour'" "$T/out"
sed -i 's/colour = "red"; //' "$CONF"

# Its check_settings() runs under --check: a file in no folder is refused.
sed -i "s|file = \"$T/greetings.txt\"|file = \"$T/nowhere/g.txt\"|" "$CONF"
set +e; jd --check > "$T/out" 2>&1; rc=$?; set -e
assert_eq "check_settings refuses: exit 1" 1 "$rc"
assert_grep "check_settings's message, at the instance's line" \
    "journeyd.conf:4: plugin instance 'greet': file: .*nowhere/g.txt: no such folder" "$T/out"
sed -i "s|file = \"$T/nowhere/g.txt\"|file = \"$T/greetings.txt\"|" "$CONF"

# A module in none of the folders: the message names them, in order.
sed -i 's/log = { };/log = { module = "nosuch"; };/' "$CONF"
set +e; jd --check > "$T/out" 2>&1; rc=$?; set -e
assert_eq "a module found nowhere: exit 1" 1 "$rc"
assert_grep "the folders searched, in order" \
    "journeyd.conf:5: plugin instance 'log': no module \"nosuch\" (nosuch.so) in $T/empty, $T/plugins, $installed" "$T/out"
sed -i 's/log = { module = "nosuch"; };/log = { };/' "$CONF"

# ABI mismatch: refused at load, naming the file and both versions.
sed 's/\.abi_major = JD_PLUGIN_ABI_MAJOR/.abi_major = JD_PLUGIN_ABI_MAJOR + 1/' \
    "$top_srcdir/examples/hello/hello.c" > "$T/hello2.c"
# shellcheck disable=SC2086
cc -std=gnu11 -fPIC -shared $cflags -o "$T/plugins/hello.so" "$T/hello2.c" -lpthread
set +e; jd --check > "$T/out" 2>&1; rc=$?; set -e
assert_eq "ABI mismatch: exit 1" 1 "$rc"
assert_grep "ABI mismatch message" "hello.so speaks plugin ABI 2.1, this journeyd speaks 1.1" "$T/out"
