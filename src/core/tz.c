/*
 * Time zones of the system's tz database, read from its TZif files
 * (RFC 9636) under $TZDIR or /usr/share/zoneinfo, and conversions between
 * Unix time and a zone's local time that touch no process-wide state
 * (unlike localtime_r() and mktime(), which read TZ).
 *
 * A zone is the transitions of its file's 64-bit data (version 2 and up; the
 * 32-bit data of a version 1 file), and after the last of them the POSIX TZ
 * string of its footer ("CET-1CEST,M3.5.0,M10.5.0/3"), with the extensions
 * of version 3: rule times from -167 to 167 hours, and daylight saving all
 * year. Files with leap seconds (the right/ tree) are refused, as are
 * truncated or inconsistent ones. Zones are loaded once, on first use, and
 * kept, immutable, for the life of the process; "UTC" needs no file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

#define TZ_MAX_FILE	(1024 * 1024)
#define TZ_MIN_OFF	(-25 * 3600)	/* offsets lie between these two */
#define TZ_MAX_OFF	(26 * 3600)	/* (RFC 9636) */
#define TZ_LIMIT	((int64_t)1 << 55)	/* times clamped to ±this */
#define TZ_BUCKETS	64
#define DAY		86400

/* A rule of a POSIX TZ string: a day of the year and a local time. */
struct tz_rule {
	char	 kind;		/* 'J': 1..365, no Feb 29; 'D': 0..365; 'M' */
	int	 day;		/* J, D: the day; M: the weekday, 0 Sunday */
	int	 week;		/* M: 1..5, 5 the last */
	int	 month;		/* M: 1..12 */
	int32_t	 secs;		/* local time of day, -167h..167h */
};

struct tz {
	char		*name;
	struct tz	*next;		/* in its cache bucket */
	int64_t		*times;		/* transitions, ascending */
	int32_t		*offs;		/* the offset from each one on */
	int		 ntimes;
	int32_t		 first_off;	/* before the first transition */
	int		 footer;	/* a TZ string rules after the last */
	int		 dst;		/* ... with daylight-saving rules */
	int32_t		 std_off, dst_off;	/* seconds east of UTC */
	struct tz_rule	 start, end;	/* of daylight saving time */
};

/* A stretch of time with one offset: [start, end). */
struct tz_span {
	int64_t	 start, end;
	int32_t	 off;
};

static char		 tz_utc_name[] = "UTC";
static struct tz	 tz_utc = { .name = tz_utc_name };
/* Zones loaded, never freed: lists that only grow at their head, each
 * zone complete before it is published, so readers need no lock. */
static _Atomic(struct tz *) tz_cache[TZ_BUCKETS];
static pthread_mutex_t	 tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* Days from 1970-01-01 to year-mon-day (mon 1..12), proleptic Gregorian. */
static int64_t
tz_days(int64_t year, int mon, int day)
{
	int64_t	 era, yoe, doy;

	year -= mon <= 2;
	era = (year >= 0 ? year : year - 399) / 400;
	yoe = year - era * 400;
	doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + day - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* Year, month and day of a count of days from 1970-01-01. */
static void
tz_civil(int64_t days, int64_t *year, int *mon, int *day)
{
	int64_t	 era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*mon <= 2);
}

/* a divided by b, rounded down (b > 0). */
static int64_t
tz_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* The weekday of a count of days from 1970-01-01 (a Thursday), 0 Sunday. */
static int
tz_wday(int64_t days)
{
	return (int)((days % 7 + 11) % 7);
}

/* Is year a leap year? */
static int
tz_leap(int64_t year)
{
	return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

/* The instant a TZ rule's change happens in year, off the offset before. */
static int64_t
tz_rule_time(const struct tz_rule *r, int64_t year, int32_t off)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int64_t		 d, first;
	int		 len;

	switch (r->kind) {
	case 'J':
		d = tz_days(year, 1, 1) + r->day - 1 +
		    (r->day >= 60 && tz_leap(year));
		break;
	case 'D':
		d = tz_days(year, 1, 1) + r->day;
		break;
	default:
		first = tz_days(year, r->month, 1);
		len = mdays[r->month - 1] + (r->month == 2 && tz_leap(year));
		d = first + (r->day - tz_wday(first) + 7) % 7 +
		    7 * (r->week - 1);
		while (d >= first + len)
			d -= 7;
		break;
	}
	return d * DAY + r->secs - off;
}

/* The span of the TZ string's rules around t (with daylight saving). */
static void
tz_footer_span(const struct tz *z, int64_t t, struct tz_span *sp)
{
	int64_t		 y, when[6], w;
	int32_t		 after[6], a;
	int		 mon, day, n = 0, i, k;

	tz_civil(tz_div(t, DAY), &y, &mon, &day);
	/* The changes of the year before, this one and the next, in time
	 * order; of two at the same instant, the later year's wins. */
	for (int64_t yy = y - 1; yy <= y + 1; yy++) {
		when[n] = tz_rule_time(&z->start, yy, z->std_off);
		after[n++] = z->dst_off;
		when[n] = tz_rule_time(&z->end, yy, z->dst_off);
		after[n++] = z->std_off;
	}
	for (i = 1; i < n; i++) {
		w = when[i];
		a = after[i];
		for (k = i; k > 0 && when[k - 1] > w; k--) {
			when[k] = when[k - 1];
			after[k] = after[k - 1];
		}
		when[k] = w;
		after[k] = a;
	}
	sp->start = INT64_MIN;
	sp->end = INT64_MAX;
	sp->off = after[0] == z->dst_off ? z->std_off : z->dst_off;
	for (i = 0; i < n; i++) {
		if (when[i] <= t) {
			sp->start = when[i];
			sp->off = after[i];
		} else if (sp->end == INT64_MAX)
			sp->end = when[i];
	}
}

/* The span of the zone's offsets that holds t. */
static void
tz_span(const struct tz *z, int64_t t, struct tz_span *sp)
{
	int	 lo = 0, hi = z->ntimes, mid;

	if (z->ntimes == 0 || t < z->times[0]) {
		if (z->ntimes == 0 && z->footer) {
			if (z->dst)
				tz_footer_span(z, t, sp);
			else {
				sp->start = INT64_MIN;
				sp->end = INT64_MAX;
				sp->off = z->std_off;
			}
			return;
		}
		sp->start = INT64_MIN;
		sp->end = z->ntimes == 0 ? INT64_MAX : z->times[0];
		sp->off = z->first_off;
		return;
	}
	/* The last transition at or before t. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (z->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	sp->start = z->times[lo];
	if (lo + 1 < z->ntimes) {
		sp->end = z->times[lo + 1];
		sp->off = z->offs[lo];
	} else if (!z->footer) {
		sp->end = INT64_MAX;
		sp->off = z->offs[lo];
	} else if (!z->dst) {
		sp->end = INT64_MAX;
		sp->off = z->std_off;
	} else {
		tz_footer_span(z, t, sp);
		if (sp->start < z->times[lo])
			sp->start = z->times[lo];
	}
}

/* Clamp a time into the range the conversions handle. */
static int64_t
tz_clamp(int64_t t)
{
	return t < -TZ_LIMIT ? -TZ_LIMIT : t > TZ_LIMIT ? TZ_LIMIT : t;
}

/* The local time in zone z at Unix time t (clamped to ±2^55 s). */
void
tz_local(const struct tz *z, int64_t t, struct tz_local *out)
{
	struct tz_span	 sp;
	int64_t		 local, days, secs, year;

	t = tz_clamp(t);
	tz_span(z, t, &sp);
	local = t + sp.off;
	days = tz_div(local, DAY);
	secs = local - days * DAY;
	tz_civil(days, &year, &out->mon, &out->mday);
	out->year = (int)year;
	out->hour = (int)(secs / 3600);
	out->min = (int)(secs / 60 % 60);
	out->sec = (int)(secs % 60);
	out->wday = tz_wday(days);
	out->yday = (int)(days - tz_days(year, 1, 1));
	out->offset = sp.off;
}

/*
 * The Unix time of a local wall-clock time in zone z, fields normalised.
 * Of several instants showing it (an overlap), the earliest; in a gap, the
 * time read with the offset before the change, which lies after it.
 */
int64_t
tz_mktime(const struct tz *z, int year, int mon, int mday, int hour,
    int min, int sec)
{
	struct tz_span	 sp, prev = { 0, 0, 0 };
	int64_t		 wall, t, gap = INT64_MIN, y = year;

	y += tz_div((int64_t)mon - 1, 12);
	mon = (int)((int64_t)mon - 1 - tz_div((int64_t)mon - 1, 12) * 12) + 1;
	wall = (tz_days(y, mon, 1) + mday - 1) * DAY + (int64_t)hour * 3600 +
	    (int64_t)min * 60 + sec;
	wall = tz_clamp(wall);
	/* Any instant showing wall lies in (wall - TZ_MAX_OFF, wall -
	 * TZ_MIN_OFF): walk the spans there, in time order. */
	tz_span(z, wall - TZ_MAX_OFF, &sp);
	for (int i = 0; i < 64; i++) {
		t = wall - sp.off;
		if (t >= sp.start && t < sp.end)
			return t;
		if (i > 0 && gap == INT64_MIN && wall >= sp.start + prev.off &&
		    wall < sp.start + sp.off)
			gap = wall - prev.off;
		if (sp.end > wall - TZ_MIN_OFF)
			break;
		prev = sp;
		tz_span(z, sp.end, &sp);
	}
	if (gap != INT64_MIN)
		return gap;
	tz_span(z, wall, &sp);
	return wall - sp.off;
}

/* A big-endian signed integer of 4 or 8 bytes. */
static int64_t
tz_be(const unsigned char *p, int n)
{
	uint64_t	 v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return n == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
}

/* Check a TZif header; its counts into cnt (isut, isstd, leap, time,
 * type, char). The version (1 to 4), or -1. */
static int
tz_header(const unsigned char *p, size_t len, uint32_t cnt[6])
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0 || (p[4] != '\0' &&
	    (p[4] < '2' || p[4] > '4')))
		return -1;
	for (int i = 0; i < 6; i++)
		cnt[i] = (uint32_t)tz_be(p + 20 + 4 * i, 4);
	return p[4] == '\0' ? 1 : p[4] - '0';
}

/* The size of a TZif data block with times of tsize bytes. */
static uint64_t
tz_block_size(const uint32_t cnt[6], int tsize)
{
	return (uint64_t)cnt[3] * (tsize + 1) + (uint64_t)cnt[4] * 6 +
	    cnt[5] + (uint64_t)cnt[2] * (tsize + 4) + cnt[1] + cnt[0];
}

/* Read a TZif data block into z: NULL, or what is wrong with it. */
static const char *
tz_block(struct tz *z, const unsigned char *p, const uint32_t cnt[6],
    int tsize)
{
	const unsigned char	*idx, *types, *isstd, *isut;
	int32_t			 offs[256];

	if (cnt[2] != 0)
		return "leap seconds are not supported";
	if (cnt[4] == 0 || cnt[4] > 256 || cnt[5] == 0 ||
	    (cnt[1] != 0 && cnt[1] != cnt[4]) ||
	    (cnt[0] != 0 && cnt[0] != cnt[4]))
		return "bad counts";
	idx = p + (size_t)cnt[3] * tsize;
	types = idx + cnt[3];
	isstd = types + (size_t)cnt[4] * 6 + cnt[5];
	isut = isstd + cnt[1];
	for (uint32_t i = 0; i < cnt[4]; i++) {
		offs[i] = (int32_t)tz_be(types + 6 * i, 4);
		if (offs[i] <= TZ_MIN_OFF || offs[i] >= TZ_MAX_OFF ||
		    types[6 * i + 4] > 1 || types[6 * i + 5] >= cnt[5] ||
		    (cnt[1] != 0 && isstd[i] > 1) ||
		    (cnt[0] != 0 && (isut[i] > 1 || (isut[i] && !isstd[i]))))
			return "bad local time type";
	}
	z->first_off = offs[0];
	z->ntimes = (int)cnt[3];
	z->times = xreallocarray(NULL, cnt[3], sizeof *z->times);
	z->offs = xreallocarray(NULL, cnt[3], sizeof *z->offs);
	for (uint32_t i = 0; i < cnt[3]; i++) {
		z->times[i] = tz_be(p + (size_t)i * tsize, tsize);
		if (idx[i] >= cnt[4] || (i > 0 && z->times[i] <=
		    z->times[i - 1]))
			return "bad transitions";
		z->offs[i] = offs[idx[i]];
	}
	return NULL;
}

/* A decimal number of at most max at *s (its end into *s), or -1. */
static int
tz_posix_num(const char **s, int max)
{
	const char	*p = *s;
	int		 n = 0;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9' && n <= max)
		n = n * 10 + (*p++ - '0');
	if (n > max)
		return -1;
	*s = p;
	return n;
}

/* [+-]hh[:mm[:ss]] with hh up to maxh, in seconds, at *s: 0 or -1. */
static int
tz_posix_time(const char **s, int maxh, int32_t *out)
{
	const char	*p = *s;
	int		 sign = 1, h, m = 0, sec = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if ((h = tz_posix_num(&p, maxh)) < 0)
		return -1;
	if (*p == ':' && (p++, (m = tz_posix_num(&p, 59)) < 0))
		return -1;
	if (*p == ':' && (p++, (sec = tz_posix_num(&p, 59)) < 0))
		return -1;
	*out = sign * (h * 3600 + m * 60 + sec);
	*s = p;
	return 0;
}

/* A zone abbreviation at *s: three or more letters, or <...> of letters,
 * digits, + and -. 0 or -1. */
static int
tz_posix_name(const char **s)
{
	const char	*p = *s, *ok = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789+-";
	size_t		 n;

	if (*p == '<') {
		n = strspn(p + 1, ok);
		if (p[1 + n] != '>')
			return -1;
		p += n + 2;
	} else {
		n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz");
		p += n;
	}
	if (n < 3)
		return -1;
	*s = p;
	return 0;
}

/* A rule (Jn, n or Mm.w.d, then optionally /time) at *s: 0 or -1. */
static int
tz_posix_rule(const char **s, struct tz_rule *r)
{
	const char	*p = *s;

	r->kind = *p == 'J' || *p == 'M' ? *p++ : 'D';
	if (r->kind == 'M') {
		if ((r->month = tz_posix_num(&p, 12)) < 1 || *p++ != '.' ||
		    (r->week = tz_posix_num(&p, 5)) < 1 || *p++ != '.' ||
		    (r->day = tz_posix_num(&p, 6)) < 0)
			return -1;
	} else if ((r->day = tz_posix_num(&p, 365)) < (r->kind == 'J'))
		return -1;
	r->secs = 7200;
	if (*p == '/' && (p++, tz_posix_time(&p, 167, &r->secs) != 0))
		return -1;
	*s = p;
	return 0;
}

/* Read the TZ string of a TZif footer into z: 0, or -1 when it is bad. */
static int
tz_posix(struct tz *z, const char *s)
{
	int32_t	 off;

	if (*s == '\0')
		return 0;
	if (tz_posix_name(&s) != 0 || tz_posix_time(&s, 24, &off) != 0)
		return -1;
	z->footer = 1;
	z->std_off = -off;
	if (*s == '\0')
		return 0;
	if (tz_posix_name(&s) != 0)
		return -1;
	z->dst_off = z->std_off + 3600;
	if (*s != ',') {
		if (tz_posix_time(&s, 24, &off) != 0)
			return -1;
		z->dst_off = -off;
	}
	/* zic always writes the rules; POSIX leaves their default open. */
	if (*s != ',' || (s++, tz_posix_rule(&s, &z->start)) != 0 ||
	    *s != ',' || (s++, tz_posix_rule(&s, &z->end)) != 0 || *s != '\0')
		return -1;
	z->dst = 1;
	return z->dst_off >= TZ_MAX_OFF || z->dst_off <= TZ_MIN_OFF ?
	    -1 : 0;
}

/* Free a zone of tz_parse(). */
void
tz_free(struct tz *z)
{
	if (z == NULL || z == &tz_utc)
		return;
	free(z->name);
	free(z->times);
	free(z->offs);
	free(z);
}

/*
 * A zone from the bytes of a TZif file (version 1 to 4), or NULL with *why
 * set to what is wrong: truncated, inconsistent, leap seconds, a bad TZ
 * string. The caller frees it with tz_free().
 */
struct tz *
tz_parse(const char *name, const void *data, size_t len, const char **why)
{
	const unsigned char	*p = data, *block, *nl;
	uint32_t		 cnt[6];
	uint64_t		 size;
	int			 version, tsize = 4;
	char			 footer[256] = "";
	struct tz		*z;

	*why = "not a TZif file";
	if ((version = tz_header(p, len, cnt)) < 0)
		return NULL;
	*why = "truncated";
	if ((size = tz_block_size(cnt, 4)) > len - 44)
		return NULL;
	block = p + 44;
	if (version >= 2) {
		/* The 64-bit data follows the 32-bit, then the footer. */
		len -= 44 + size;
		p = block + size;
		if (tz_header(p, len, cnt) < 0 ||
		    (size = tz_block_size(cnt, 8)) > len - 44 ||
		    len - 44 - size < 2 || p[44 + size] != '\n')
			return NULL;
		block = p + 44;
		tsize = 8;
		p = block + size + 1;
		len -= 44 + size + 1;
		if ((nl = memchr(p, '\n', len)) == NULL)
			return NULL;
		*why = "bad TZ string";
		if ((size_t)(nl - p) >= sizeof footer ||
		    memchr(p, '\0', nl - p) != NULL)
			return NULL;
		memcpy(footer, p, nl - p);
		footer[nl - p] = '\0';
	}
	z = xcalloc(1, sizeof *z);
	if ((*why = tz_block(z, block, cnt, tsize)) != NULL) {
		tz_free(z);
		return NULL;
	}
	if (tz_posix(z, footer) != 0) {
		*why = "bad TZ string";
		tz_free(z);
		return NULL;
	}
	z->name = xstrdup(name);
	return z;
}

/* Read zone name's TZif file from the tz database, or NULL. */
static struct tz *
tz_load(const char *name)
{
	const char	*dir = getenv("TZDIR"), *why;
	char		*path;
	unsigned char	*buf;
	struct stat	 sb;
	struct tz	*z = NULL;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	path = xprintf("%s/%s", dir != NULL && *dir != '\0' ? dir :
	    "/usr/share/zoneinfo", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > TZ_MAX_FILE) {
		close(fd);
		return NULL;
	}
	buf = xmalloc(sb.st_size);
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, sb.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (got == (size_t)sb.st_size)
		z = tz_parse(name, buf, got, &why);
	free(buf);
	return z;
}

/* Is name a plausible zone name: letters, digits, _ - + in non-empty
 * components separated by '/' (so nothing like "..", "/etc", "a//b")? */
static int
tz_name_ok(const char *name)
{
	size_t	 len = strlen(name);

	if (len == 0 || len > 64 || name[0] == '/' || name[len - 1] == '/' ||
	    strstr(name, "//") != NULL)
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/_-+") == len;
}

/* The zone named name in a cache bucket, or NULL. */
static struct tz *
tz_cached(uint32_t h, const char *name)
{
	struct tz	*z;

	z = atomic_load_explicit(&tz_cache[h], memory_order_acquire);
	for (; z != NULL; z = z->next)
		if (strcmp(z->name, name) == 0)
			break;
	return z;
}

/*
 * The zone of an IANA name ("Europe/Berlin"), loaded on first use and kept
 * for the life of the process; NULL when there is no such zone or its file
 * is unusable. "UTC" always works. Safe from any thread; a zone already
 * loaded is found without a lock.
 */
const struct tz *
tz_get(const char *name)
{
	struct tz	*z;
	uint32_t	 h = 2166136261u;

	if (name == NULL)
		return NULL;
	if (strcmp(name, "UTC") == 0)
		return &tz_utc;
	if (!tz_name_ok(name))
		return NULL;
	for (const char *p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= TZ_BUCKETS;
	if ((z = tz_cached(h, name)) != NULL)
		return z;
	pthread_mutex_lock(&tz_lock);
	if ((z = tz_cached(h, name)) == NULL && (z = tz_load(name)) != NULL) {
		z->next = atomic_load_explicit(&tz_cache[h],
		    memory_order_relaxed);
		atomic_store_explicit(&tz_cache[h], z, memory_order_release);
	}
	pthread_mutex_unlock(&tz_lock);
	return z;
}

/* Is zone a usable time zone of the system's tz database? */
int
tz_valid(const char *zone)
{
	return tz_get(zone) != NULL;
}
