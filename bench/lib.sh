# bench/lib.sh: the data the benchmarks share, sourced by bench/tick and
# bench/live. The caller sets BENCH (this folder), BENCH_DIR, JOURNEYCTL
# and PLUGINS.

# Write a config for database $1 to $2, from template $3 (default
# tick.conf.in).
conf() {
	sed -e "s|@DB@|$1|" -e "s|@PLUGINS@|$PLUGINS|" \
	    "$BENCH/${3:-tick.conf.in}" > "$2"
}

# The schema journeyctl creates, as sqlite3 prints it.
schema() {
	rm -f "$BENCH_DIR/schema.db"
	conf "$BENCH_DIR/schema.db" "$BENCH_DIR/schema.conf"
	"$JOURNEYCTL" -c "$BENCH_DIR/schema.conf" status > /dev/null
	sqlite3 "$BENCH_DIR/schema.db" .schema
	rm -f "$BENCH_DIR/schema.db" "$BENCH_DIR/schema.db-wal" \
	    "$BENCH_DIR/schema.db-shm"
}

# Generate the database for N users ($1) into $2, unless it is there,
# newer than the generator and of the schema journeyd creates now.
generate() {
	if [ -f "$2" ] && [ "$2" -nt "$BENCH/gen-data.sql" ] &&
	    [ "$(sqlite3 "$2" .schema)" = "$(schema)" ]; then
		return 0
	fi
	rm -f "$2" "$2-wal" "$2-shm" "$2.tmp" "$2.tmp-wal" "$2.tmp-shm"
	conf "$2.tmp" "$BENCH_DIR/gen.conf"
	"$JOURNEYCTL" -c "$BENCH_DIR/gen.conf" status > /dev/null
	t0=$(date +%s.%N)
	sed "s/@N@/$1/" "$BENCH/gen-data.sql" | sqlite3 "$2.tmp" > /dev/null
	t1=$(date +%s.%N)
	mv "$2.tmp" "$2"
	rm -f "$2.tmp-wal" "$2.tmp-shm"
	printf 'generated %s users, %s events in %.1fs: %s\n' "$1" \
	    "$(sqlite3 "$2" 'SELECT count(*) FROM events')" \
	    "$(awk "BEGIN { print $t1 - $t0 }")" "$2" >&2
}
