#!/bin/sh
# Install from source as the README says: configured with the prefix the
# shipped config assumes (--prefix=/usr --sysconfdir=/etc
# --localstatedir=/var), `make install` into DESTDIR puts the programs,
# plugins, config, templates, unit and man pages in place. The installed
# config, checked by the installed journeyd at its default path (the
# DESTDIR tree laid over /etc and /usr in a mount namespace of its own),
# fails only for the secrets the operator must create, each named with
# what to put there; once they exist it passes. Needs root or a user
# namespace (skipped, 77, without either).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	ns="unshare --mount"
elif unshare --user --map-root-user true 2>/dev/null; then
	ns="unshare --user --map-root-user --mount"
else
	echo "SKIP: not root, and no user namespace for the mount namespace"
	exit 77
fi
R=$T/root
mkdir "$T/build"
(cd "$T/build" && "$top_srcdir/configure" --quiet --prefix=/usr \
    --sysconfdir=/etc --localstatedir=/var &&
    make -j2 install DESTDIR="$R") > "$T/build.log" 2>&1 ||
    { tail -n 40 "$T/build.log"; fail "configure, make install"; }
ok "configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var; make install"
for f in usr/sbin/journeyd usr/bin/journeyctl etc/journeyd/journeyd.conf \
    etc/journeyd/templates/pass_offer.txt usr/lib/journeyd/plugins/crm.so \
    usr/lib/systemd/system/journeyd.service \
    usr/share/man/man8/journeyd.8 usr/share/man/man1/journeyctl.1 \
    usr/share/man/man5/journeyd.conf.5 usr/share/man/man3/journeyd-plugin.3 \
    usr/include/journeyd/plugin.h; do
	[ -e "$R/$f" ] || fail "make install: no /$f"
done
ok "installed: programs, plugins, config, templates, unit, man pages, header"

# installed ARGS...: the installed journeyd, the install tree over /etc
# and /usr; its output in $T/out, its status in $rc.
installed() {
	set +e
	$ns sh -c 'mount -t overlay overlay -o "lowerdir=$1/etc:/etc" /etc &&
	    mount -t overlay overlay -o "lowerdir=$1/usr:/usr" /usr &&
	    shift && exec /usr/sbin/journeyd "$@"' sh "$R" "$@" > "$T/out" 2>&1
	rc=$?
	set -e
}
installed --help
[ "$rc" = 0 ] || { cat "$T/out"; fail "journeyd --help"; }
assert_grep "the default config" "default: /etc/journeyd/journeyd.conf" "$T/out"
assert_grep "the default plugin folder" "default: /usr/lib/journeyd/plugins" "$T/out"

unset CREDENTIALS_DIRECTORY
installed --check
cat "$T/out"
assert_eq "--check before the secrets: exit 1" 1 "$rc"
assert_eq "only the two secrets" 2 "$(wc -l < "$T/out")"
assert_grep "the HubSpot token: CREDENTIALS_DIRECTORY said" \
    "^/etc/journeyd/journeyd.conf:[0-9]*: plugin instance 'hubspot': 'token_file' \"\$CREDENTIALS_DIRECTORY/hubspot.token\": CREDENTIALS_DIRECTORY is not set .*CREDENTIALS_DIRECTORY=/etc/journeyd journeyd --check" "$T/out"
assert_grep "the webhook secret: the same" "'hook': 'secret_file' .*CREDENTIALS_DIRECTORY is not set" "$T/out"

export CREDENTIALS_DIRECTORY=/etc/journeyd
installed --check
cat "$T/out"
assert_eq "--check, by hand as the README says: exit 1" 1 "$rc"
assert_eq "only the two secrets" 2 "$(wc -l < "$T/out")"
assert_grep "the missing token named, with what to put there" \
    "plugin instance 'hubspot': 'token_file' \"/etc/journeyd/hubspot.token\" is missing: put the HubSpot private app token or Salesforce access token there, mode 0600" "$T/out"
assert_grep "the missing webhook secret named, with what to put there" \
    "plugin instance 'hook': 'secret_file' \"/etc/journeyd/webhook.secret\" is missing: put the signing secret (whsec_BASE64 or raw bytes) there, mode 0600" "$T/out"
assert_no_grep "no contradictory 'is required'" "is required" "$T/out"

# The unit passes exactly those files.
unit=$R/usr/lib/systemd/system/journeyd.service
assert_grep "the unit passes the token" "^LoadCredential=hubspot.token:/etc/journeyd/hubspot.token$" "$unit"
assert_grep "the unit passes the secret" "^LoadCredential=webhook.secret:/etc/journeyd/webhook.secret$" "$unit"

# As the README says: create them, mode 0600.
(umask 077 && echo "pat-na1-not-a-real-token" > "$R/etc/journeyd/hubspot.token" &&
    echo "whsec_$(printf 'not-a-real-secret' | base64)" > "$R/etc/journeyd/webhook.secret")
installed --check
assert_eq "--check with the secrets: exit 0" 0 "$rc"
assert_eq "--check with the secrets: nothing printed" "" "$(cat "$T/out")"
