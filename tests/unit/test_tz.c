/*
 * Time zones (core/tz.c) against glibc's localtime_r() and mktime(), with
 * TZ set in this single-threaded test process: random times from 1900 to
 * 2200 and every hour around each transition of zones with odd rules; TZ
 * strings of every form through files made here; names and files refused.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/core.h"

#define HOUR		3600
#define DAY		86400
#define T1900		(-2208988800LL)
#define T2200		7258118400LL

static char	 dir[] = "/tmp/test_tz.XXXXXX";
static uint64_t	 rng = 0x9e3779b97f4a7c15ULL;
static int	 gaps_like_glibc;	/* gaps checked against mktime() */

/* A deterministic pseudo-random number (xorshift64*). */
static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

/* A random time in [from, to). */
static int64_t
rnd_time(int64_t from, int64_t to)
{
	return from + (int64_t)(rnd() % (uint64_t)(to - from));
}

/* Point glibc at a zone (a name or a POSIX TZ string). */
static void
glibc_zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* glibc's local time at t. */
static struct tm
glibc_local(int64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (localtime_r(&tt, &tm) == NULL)
		fail_msg("localtime_r(%lld) failed", (long long)t);
	return tm;
}

/* tz_local(t) must say what localtime_r(t) says. */
static void
check_local(const struct tz *z, const char *what, int64_t t)
{
	struct tm	 tm = glibc_local(t);
	struct tz_local	 lt;

	tz_local(z, t, &lt);
	if (lt.year != tm.tm_year + 1900 || lt.mon != tm.tm_mon + 1 ||
	    lt.mday != tm.tm_mday || lt.hour != tm.tm_hour ||
	    lt.min != tm.tm_min || lt.sec != tm.tm_sec ||
	    lt.wday != tm.tm_wday || lt.yday != tm.tm_yday ||
	    lt.offset != tm.tm_gmtoff)
		fail_msg("%s at %lld: tz %04d-%02d-%02d %02d:%02d:%02d wday %d "
		    "yday %d off %d; glibc %04d-%02d-%02d %02d:%02d:%02d wday "
		    "%d yday %d off %ld", what, (long long)t, lt.year, lt.mon,
		    lt.mday, lt.hour, lt.min, lt.sec, lt.wday, lt.yday,
		    lt.offset, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_wday, tm.tm_yday,
		    tm.tm_gmtoff);
}

/* Seconds of a UTC wall-clock time (timegm() without its TZ). */
static int64_t
wall_secs(const struct tm *tm)
{
	int64_t	 y = tm->tm_year + 1900, m = tm->tm_mon + 1, era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + tm->tm_mday - 1;
	return (era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy -
	    719468) * DAY + tm->tm_hour * HOUR + tm->tm_min * 60 + tm->tm_sec;
}

/*
 * The reference for tz_mktime() at wall-clock wall, from localtime_r()
 * alone: the earliest instant t with t + offset(t) == wall; in a gap, wall
 * read with the offset before the change (forward by the gap), and *before
 * an instant before the change. *gap says which it was.
 */
static int64_t
ref_mktime(int64_t wall, int *gap, int64_t *before)
{
	long	 offs[64];
	int	 n = 0, k;
	int64_t	 best = INT64_MAX, t;

	/* The offsets in force around wall: those at its ends, and the one
	 * at wall read with each offset found, until no new one appears. */
	offs[n++] = glibc_local(wall - 26 * HOUR).tm_gmtoff;
	offs[n++] = glibc_local(wall + 25 * HOUR).tm_gmtoff;
	offs[n++] = glibc_local(wall).tm_gmtoff;
	for (int i = 0; i < n && n < 64; i++) {
		long o = glibc_local(wall - offs[i]).tm_gmtoff;

		for (k = 0; k < n && offs[k] != o; k++)
			;
		if (k == n)
			offs[n++] = o;
	}
	*gap = 0;
	for (k = 0; k < n; k++) {
		t = wall - offs[k];
		if (glibc_local(t).tm_gmtoff == offs[k] && t < best)
			best = t;
	}
	if (best != INT64_MAX)
		return best;
	*gap = 1;
	for (k = 0; k < n; k++) {
		long	 after;

		t = wall - offs[k];
		after = glibc_local(t).tm_gmtoff;
		if (after > offs[k] &&
		    glibc_local(t - (after - offs[k])).tm_gmtoff == offs[k] &&
		    t < best) {
			best = t;
			*before = t - (after - offs[k]);
		}
	}
	if (best == INT64_MAX)
		fail_msg("no reference for wall time %lld", (long long)wall);
	return best;
}

/* tz_mktime() of the wall-clock time of tm must be the reference; in a
 * spring gap into daylight saving time, also glibc's mktime(). */
static void
check_mktime(const struct tz *z, const char *what, struct tm tm)
{
	struct tm	 g = tm;
	int64_t		 wall = wall_secs(&tm), want, got, before = 0;
	int		 gap;
	time_t		 mk;

	want = ref_mktime(wall, &gap, &before);
	got = tz_mktime(z, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (got != want)
		fail_msg("%s: tz_mktime(%04d-%02d-%02d %02d:%02d:%02d) = %lld, "
		    "want %lld%s", what, tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (long long)got, (long long)want, gap ? " (in a gap)" : "");
	/* glibc prefers the side marked as daylight saving time: the same
	 * when that is the later one. */
	if (!gap || glibc_local(before).tm_isdst || !glibc_local(want).tm_isdst)
		return;
	g.tm_isdst = -1;
	mk = mktime(&g);
	if ((int64_t)mk != want)
		fail_msg("%s: in a gap, tz_mktime = %lld, mktime = %lld", what,
		    (long long)want, (long long)mk);
	gaps_like_glibc++;
}

/* The transitions of glibc's zone in [from, to) at a resolution of one
 * day (found day by day, then to the second); returns how many. */
static int
glibc_transitions(int64_t from, int64_t to, int64_t *out, int max)
{
	int	 n = 0;
	long	 prev = glibc_local(from).tm_gmtoff, o;

	for (int64_t t = from + DAY; t < to && n < max; t += DAY) {
		int64_t	 lo = t - DAY, hi = t, mid;

		if ((o = glibc_local(t).tm_gmtoff) == prev)
			continue;
		while (hi - lo > 1) {
			mid = lo + (hi - lo) / 2;
			if (glibc_local(mid).tm_gmtoff == prev)
				lo = mid;
			else
				hi = mid;
		}
		out[n++] = hi;
		prev = o;
	}
	return n;
}

/*
 * Compare zone z with glibc's zone tz over [from, to): random times,
 * every hour around each transition and every quarter hour of wall-clock
 * time across it, and random wall-clock times.
 */
static void
compare_zone(const struct tz *z, const char *tz, int64_t from, int64_t to)
{
	static int64_t	 trans[4096];
	struct tm	 tm;
	int		 n;

	assert_non_null(z);
	glibc_zone(tz);
	for (int i = 0; i < 2000; i++)
		check_local(z, tz, rnd_time(from, to));
	n = glibc_transitions(from, to, trans, 4096);
	for (int i = 0; i < n; i++) {
		int64_t	 t = trans[i];

		check_local(z, tz, t - 1);
		for (int h = -3; h <= 3; h++)
			check_local(z, tz, t + h * HOUR);
		/* Wall-clock times every quarter hour from an hour before
		 * the change to an hour after, the gap or overlap included. */
		tm = glibc_local(t - 2 * HOUR);
		tm.tm_min = tm.tm_min / 15 * 15;
		tm.tm_sec = 0;
		for (int q = 0; q < 4 * 4 + 4; q++) {
			struct tm	 w = tm;
			time_t		 tt;

			/* The fields normalised without glibc's zone. */
			w.tm_min += 15 * q;
			tt = (time_t)wall_secs(&w);
			gmtime_r(&tt, &w);
			check_mktime(z, tz, w);
		}
	}
	for (int i = 0; i < 300; i++) {
		tm = glibc_local(rnd_time(from, to));
		tm.tm_hour = (int)(rnd() % 24);
		tm.tm_min = (int)(rnd() % 60);
		check_mktime(z, tz, tm);
	}
}

static void
test_system_zones(void **state)
{
	static const char *zones[] = { "Europe/Berlin", "America/New_York",
	    "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham",
	    "America/Sao_Paulo", "Africa/Casablanca", "Europe/Dublin",
	    "America/St_Johns", "Pacific/Apia", "America/Nuuk", "UTC",
	    "Etc/UTC", NULL };

	for (int i = 0; zones[i] != NULL; i++)
		compare_zone(tz_get(zones[i]), zones[i], T1900, T2200);
	/* The usual spring gaps agree with glibc's mktime(). */
	assert_true(gaps_like_glibc > 100);
}

/* Known answers, in words. */
static void
test_known(void **state)
{
	const struct tz	*berlin = tz_get("Europe/Berlin");
	const struct tz	*apia = tz_get("Pacific/Apia");
	const struct tz	*dublin = tz_get("Europe/Dublin");
	const struct tz	*lhi = tz_get("Australia/Lord_Howe");
	struct tz_local	 lt;

	/* 2026-03-29 02:30 does not exist in Berlin: 03:30 CEST. */
	assert_int_equal(tz_mktime(berlin, 2026, 3, 29, 2, 30, 0),
	    1774747800);
	/* 2026-10-25 02:30 happens twice: the first, CEST. */
	assert_int_equal(tz_mktime(berlin, 2026, 10, 25, 2, 30, 0),
	    1792888200);
	/* Samoa skipped 2011-12-30: noon then is noon on the 31st. */
	assert_int_equal(tz_mktime(apia, 2011, 12, 30, 12, 0, 0),
	    1325282400);
	tz_local(apia, 1325282400, &lt);
	assert_int_equal(lt.mday, 31);
	assert_int_equal(lt.offset, 14 * HOUR);
	/* Dublin's negative DST: 01:30 on 2026-03-29 is skipped; forward
	 * (glibc's mktime() goes back, to the side marked as DST). */
	assert_int_equal(tz_mktime(dublin, 2026, 3, 29, 1, 30, 0),
	    1774747800);
	/* Lord Howe's half hour: 02:15 on 2026-10-04 is 02:45. */
	tz_local(lhi, tz_mktime(lhi, 2026, 10, 4, 2, 15, 0), &lt);
	assert_int_equal(lt.hour * 60 + lt.min, 2 * 60 + 45);
	assert_int_equal(lt.offset, 11 * HOUR);
	/* Normalised fields. */
	assert_int_equal(tz_mktime(berlin, 2026, 1, 32, 0, 0, 0),
	    tz_mktime(berlin, 2026, 2, 1, 0, 0, 0));
	assert_int_equal(tz_mktime(berlin, 2026, 13, 1, 0, 0, 0),
	    tz_mktime(berlin, 2027, 1, 1, 0, 0, 0));
	assert_int_equal(tz_mktime(berlin, 2026, 0, 1, 0, 0, 0),
	    tz_mktime(berlin, 2025, 12, 1, 0, 0, 0));
	assert_int_equal(tz_mktime(berlin, 2026, -11, 1, 0, 0, 0),
	    tz_mktime(berlin, 2025, 1, 1, 0, 0, 0));
	assert_int_equal(tz_mktime(berlin, 2026, 3, 1, -1, 90, -60),
	    tz_mktime(berlin, 2026, 3, 1, 0, 29, 0));
	assert_int_equal(tz_mktime(berlin, 2024, 2, 30, 0, 0, 0),
	    tz_mktime(berlin, 2024, 3, 1, 0, 0, 0));
	/* Extremes are clamped, not undefined. */
	tz_local(berlin, INT64_MAX, &lt);
	assert_true(lt.year > 1000000000);
	tz_local(berlin, INT64_MIN, &lt);
	assert_true(lt.year < -1000000000);
	assert_true(tz_mktime(berlin, INT32_MAX, INT32_MAX, INT32_MAX,
	    INT32_MAX, INT32_MAX, INT32_MAX) > 0);
	assert_true(tz_mktime(berlin, INT32_MIN, INT32_MIN, INT32_MIN,
	    INT32_MIN, INT32_MIN, INT32_MIN) < 0);
}

/* Append a big-endian integer of n bytes. */
static unsigned char *
put_be(unsigned char *p, int64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		*p++ = (unsigned char)((uint64_t)v >> (8 * i));
	return p;
}

/* A TZif file's contents, for write_tzif(). */
struct tzif {
	int		 version;	/* 1, 2 or 3 */
	int		 ntimes;
	const int64_t	*times;
	const uint8_t	*idx;
	int		 ntypes;
	const int32_t	*offs;
	const char	*footer;	/* version 2 and up */
	int		 leaps;		/* leap second records */
};

/* One header and data block with times of tsize bytes. */
static unsigned char *
put_block(unsigned char *p, const struct tzif *f, int version, int tsize)
{
	memcpy(p, "TZif", 4);
	p[4] = version == 1 ? '\0' : (unsigned char)('0' + version);
	memset(p + 5, 0, 15);
	p += 20;
	p = put_be(p, 0, 4);
	p = put_be(p, 0, 4);
	p = put_be(p, f->leaps, 4);
	p = put_be(p, f->ntimes, 4);
	p = put_be(p, f->ntypes, 4);
	p = put_be(p, 4, 4);
	for (int i = 0; i < f->ntimes; i++)
		p = put_be(p, f->times[i], tsize);
	for (int i = 0; i < f->ntimes; i++)
		*p++ = f->idx[i];
	for (int i = 0; i < f->ntypes; i++) {
		p = put_be(p, f->offs[i], 4);
		*p++ = 0;
		*p++ = 0;
	}
	memcpy(p, "XYZ", 4);
	p += 4;
	for (int i = 0; i < f->leaps; i++) {
		p = put_be(p, 78796800 + i * 15778800LL, tsize);
		p = put_be(p, i + 1, 4);
	}
	return p;
}

/* The bytes of a TZif file into buf; their length. */
static size_t
make_tzif(const struct tzif *f, unsigned char *buf)
{
	unsigned char	*p = put_block(buf, f, f->version, 4);

	if (f->version >= 2) {
		p = put_block(p, f, f->version, 8);
		p += sprintf((char *)p, "\n%s\n", f->footer);
	}
	return p - buf;
}

/* Write bytes as the zone file dir/name. */
static void
write_zone(const char *name, const void *data, size_t len)
{
	char	 path[256];
	FILE	*fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Every form of TZ string, in files of one transition (at 1970) and the
 * string, against glibc reading the same string. */
static void
test_tz_strings(void **state)
{
	static const char *strings[] = { "<+0330>-3:30", "UTC0",
	    "CET-1CEST,M3.5.0,M10.5.0/3", "IST-1GMT0,M10.5.0,M3.5.0/1",
	    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "EST5EDT,J60/2,J300/2",
	    "XXX3YYY,59/2,299/2", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
	    "AAA-5BBB-6,M3.1.0/50,M10.1.0/-30", "<-0330>3:30<-0230>,M2.5.6,"
	    "M11.5.6/24", "EST+5EDT+4:00:00,J2/0,J364/23:59:59",
	    "NZST-12NZDT,M9.5.0,M4.1.0/3", NULL };
	static const int64_t times[] = { 0 };
	static const uint8_t idx[] = { 0 };
	unsigned char	 buf[1024];
	char		 name[32];
	struct tzif	 f = { 3, 1, times, idx, 1, NULL, NULL, 0 };
	int32_t		 off;
	const char	*why;
	struct tz	*z;

	for (int i = 0; strings[i] != NULL; i++) {
		glibc_zone(strings[i]);
		off = (int32_t)glibc_local(0).tm_gmtoff;
		f.offs = &off;
		f.footer = strings[i];
		z = tz_parse("test", buf, make_tzif(&f, buf), &why);
		if (z == NULL)
			fail_msg("\"%s\" refused: %s", strings[i], why);
		compare_zone(z, strings[i], 0, T2200);
		tz_free(z);
		/* The same through a file in TZDIR. */
		snprintf(name, sizeof name, "Test%d", i);
		write_zone(name, buf, make_tzif(&f, buf));
		assert_non_null(z = (struct tz *)tz_get(name));
		for (int k = 0; k < 100; k++)
			check_local(z, strings[i], rnd_time(0, T2200));
	}
}

/*
 * Rules whose daylight saving time crosses the new year in UTC. glibc
 * evaluates a TZ string's rules in the UTC year of the time alone, so it
 * flips to standard time at each new year for a few hours; RFC 9636 and
 * the reference tzcode do not. Daylight saving all year (version 3).
 */
static void
test_dst_across_new_year(void **state)
{
	static const int64_t times[] = { 0 };
	static const uint8_t idx[] = { 0 };
	static const int32_t offs[] = { -4 * HOUR };
	struct tzif	 f = { 3, 1, times, idx, 1, offs,
			    "EST5EDT,0/0,J365/25", 0 };
	unsigned char	 buf[1024];
	const char	*why;
	struct tz	*z;
	struct tz_local	 lt;

	assert_non_null(z = tz_parse("t", buf, make_tzif(&f, buf), &why));
	for (int i = 0; i < 5000; i++) {
		tz_local(z, rnd_time(0, T2200), &lt);
		assert_int_equal(lt.offset, -4 * HOUR);
	}
	tz_local(z, 1767225600 + 2 * HOUR, &lt);	/* 2026-01-01T02Z */
	assert_int_equal(lt.offset, -4 * HOUR);
	assert_int_equal(tz_mktime(z, 2026, 1, 1, 0, 30, 0),
	    1767225600 + 4 * HOUR + 1800);
	tz_free(z);
	/* DST until 23:59:59 on Dec 31, local: 1989-01-01T03:33:51Z is
	 * 1988-12-31 23:33:51 EDT (glibc: 22:33:51 EST). */
	f.footer = "EST+5EDT+4:00:00,J1/0,J365/23:59:59";
	assert_non_null(z = tz_parse("t", buf, make_tzif(&f, buf), &why));
	tz_local(z, 599628831, &lt);
	assert_int_equal(lt.offset, -4 * HOUR);
	assert_int_equal(lt.hour, 23);
	tz_local(z, 599630400, &lt);	/* 1989-01-01T04:00:00Z */
	assert_int_equal(lt.offset, -5 * HOUR);
	tz_local(z, 599634000, &lt);	/* 05:00:00Z: DST again */
	assert_int_equal(lt.offset, -4 * HOUR);
	tz_free(z);
}

/* A version 1 file: 32-bit data, no footer, the last type forever. */
static void
test_version1(void **state)
{
	static const int64_t times[] = { -1000000000, 0, 1000000000 };
	static const uint8_t idx[] = { 1, 2, 0 };
	static const int32_t offs[] = { 3600, 7200, -9000 };
	struct tzif	 f = { 1, 3, times, idx, 3, offs, NULL, 0 };
	unsigned char	 buf[1024];
	size_t		 len = make_tzif(&f, buf);
	const struct tz	*z;
	struct tz_local	 lt;

	write_zone("Version1", buf, len);
	assert_non_null(z = tz_get("Version1"));
	tz_local(z, -1000000001, &lt);
	assert_int_equal(lt.offset, 3600);
	tz_local(z, -1, &lt);
	assert_int_equal(lt.offset, 7200);
	tz_local(z, 999999999, &lt);
	assert_int_equal(lt.offset, -9000);
	tz_local(z, INT64_MAX / 2, &lt);
	assert_int_equal(lt.offset, 3600);
	compare_zone(z, "Version1", INT32_MIN, INT32_MAX);
}

/* Unknown and path-like names, and unusable files, are refused. */
static void
test_refused(void **state)
{
	static const char *names[] = { "Mars/Olympus_Mons", "../../etc/passwd",
	    "/etc/localtime", "", "Europe//Berlin", "Europe/", "Europe",
	    "Europe/Berlin\n", "Europe/./Berlin", "right/UTC", NULL };
	static const int64_t times[] = { 10, 5 };
	static const uint8_t idx[] = { 0, 1 }, badidx[] = { 0, 7 };
	static const int32_t offs[] = { 0, 3600 }, huge[] = { 0, 26 * HOUR };
	static const char *footers[] = { "CET-1CEST", "CET-1CEST,M13.1.0,"
	    "M10.5.0", "CET-1CEST,M3.5.0,M10.5.0/168", "C-1", "CET-25",
	    "CET-1CEST,M3.5.0,M10.5.0x", "<+01-1", "CET-1CEST,M3.6.0,M10.5.0",
	    "CET-1CEST,J0,J365", "CET-1CEST,366,0", NULL };
	unsigned char	 buf[1024], good[8192];
	struct tzif	 f;
	size_t		 len;
	const char	*why;
	FILE		*fp;

	for (int i = 0; names[i] != NULL; i++)
		if (tz_get(names[i]) != NULL)
			fail_msg("\"%s\" accepted", names[i]);
	assert_null(tz_get(NULL));
	assert_false(tz_valid("../../etc/passwd"));
	/* A real file, cut short anywhere, is refused. */
	assert_non_null(fp = fopen("/usr/share/zoneinfo/Europe/Berlin", "r"));
	len = fread(good, 1, sizeof good, fp);
	fclose(fp);
	assert_true(len > 1000);
	for (size_t n = 0; n < len; n++)
		if (tz_parse("cut", good, n, &why) != NULL)
			fail_msg("Europe/Berlin cut at %zu accepted", n);
	write_zone("Truncated", good, len - 40);
	assert_null(tz_get("Truncated"));
	good[0] = 'X';
	write_zone("Magic", good, len);
	assert_null(tz_get("Magic"));
	/* Inconsistent data. */
	f = (struct tzif){ 2, 2, times, idx, 2, offs, "", 0 };
	assert_null(tz_parse("t", buf, make_tzif(&f, buf), &why));
	assert_string_equal(why, "bad transitions");
	f = (struct tzif){ 2, 1, times, badidx + 1, 2, offs, "", 0 };
	assert_null(tz_parse("t", buf, make_tzif(&f, buf), &why));
	f = (struct tzif){ 2, 1, times, idx, 2, huge, "", 0 };
	assert_null(tz_parse("t", buf, make_tzif(&f, buf), &why));
	f = (struct tzif){ 2, 1, times, idx, 0, offs, "", 0 };
	assert_null(tz_parse("t", buf, make_tzif(&f, buf), &why));
	f = (struct tzif){ 2, 1, times, idx, 2, offs, "", 2 };
	assert_null(tz_parse("t", buf, make_tzif(&f, buf), &why));
	assert_string_equal(why, "leap seconds are not supported");
	f = (struct tzif){ 2, 1, times, idx, 2, offs, "", 0 };
	len = make_tzif(&f, buf);
	buf[4] = '5';
	assert_null(tz_parse("t", buf, len, &why));
	for (int i = 0; footers[i] != NULL; i++) {
		f.footer = footers[i];
		if (tz_parse("t", buf, make_tzif(&f, buf), &why) != NULL)
			fail_msg("TZ string \"%s\" accepted", footers[i]);
		assert_string_equal(why, "bad TZ string");
	}
	/* The same data with a good footer loads: the refusals were for
	 * what they say. */
	f.footer = "CET-1CEST,M3.5.0,M10.5.0/3";
	write_zone("Good", buf, make_tzif(&f, buf));
	assert_non_null(tz_get("Good"));
	/* Leap seconds in a real file (right/), when tzdata has them. */
	if ((fp = fopen("/usr/share/zoneinfo/right/UTC", "r")) != NULL) {
		len = fread(good, 1, sizeof good, fp);
		fclose(fp);
		assert_null(tz_parse("right/UTC", good, len, &why));
		assert_string_equal(why, "leap seconds are not supported");
	}
}

/* Zones are loaded once; UTC needs no file. */
static void
test_cache(void **state)
{
	const struct tz	*a = tz_get("Europe/Berlin");
	struct tz_local	 lt;

	assert_non_null(a);
	assert_ptr_equal(tz_get("Europe/Berlin"), a);
	assert_true(tz_valid("Europe/Berlin"));
	setenv("TZDIR", "/nonexistent", 1);
	assert_ptr_equal(tz_get("Europe/Berlin"), a);
	assert_non_null(tz_get("UTC"));
	assert_null(tz_get("America/Chicago"));
	tz_local(tz_get("UTC"), 1767225600, &lt);
	assert_int_equal(lt.year * 10000 + lt.mon * 100 + lt.mday, 20260101);
	assert_int_equal(lt.wday, 4);
	assert_int_equal(lt.offset, 0);
	unsetenv("TZDIR");
}

/* Point TZDIR at the files made here. */
static int
setup(void **state)
{
	return setenv("TZDIR", dir, 1);
}

/* The system's tz database again. */
static int
teardown(void **state)
{
	return unsetenv("TZDIR");
}

/* Remove the directory of the files made here. */
static int
group_teardown(void **state)
{
	char	 cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_zones),
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_cache),
		cmocka_unit_test_setup_teardown(test_tz_strings, setup,
		    teardown),
		cmocka_unit_test(test_dst_across_new_year),
		cmocka_unit_test_setup_teardown(test_version1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};
	int	 rc;

	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0) {
		fprintf(stderr, "test_tz: no tz database (apt-get install "
		    "tzdata)\n");
		return 77;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	rc = cmocka_run_group_tests(tests, NULL, group_teardown);
	return rc;
}
