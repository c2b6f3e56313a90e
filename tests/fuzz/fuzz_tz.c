/*
 * Fuzz the TZif reader (core/tz.c): the input is a TZif file. Whatever it
 * holds, reading it must not crash; a zone it accepts must convert every
 * time to a valid local time, and tz_mktime() of that local time must come
 * back to an instant that shows it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_open("fuzz_tz", 0);
	return 0;
}

/* Does lt hold a valid local time? */
static int
fuzz_valid(const struct tz_local *lt)
{
	return lt->mon >= 1 && lt->mon <= 12 && lt->mday >= 1 &&
	    lt->mday <= 31 && lt->hour >= 0 && lt->hour < 24 &&
	    lt->min >= 0 && lt->min < 60 && lt->sec >= 0 && lt->sec < 60 &&
	    lt->wday >= 0 && lt->wday < 7 && lt->yday >= 0 &&
	    lt->yday < 366 && lt->offset > -25 * 3600 &&
	    lt->offset < 26 * 3600;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tz_local	 lt, back;
	const char	*why;
	struct tz	*z;
	int64_t		 t, m;

	if ((z = tz_parse("fuzz", data, len, &why)) == NULL) {
		if (why == NULL)
			fuzz_fail("tz_parse refused without a reason");
		return 0;
	}
	/* From 1900 to 2200, every 73 days and a bit. */
	for (t = -2208988800LL; t < 7258118400LL; t += 73 * 86400 + 3593) {
		tz_local(z, t, &lt);
		if (!fuzz_valid(&lt))
			fuzz_fail("tz_local(%lld): not a valid local time",
			    (long long)t);
		m = tz_mktime(z, lt.year, lt.mon, lt.mday, lt.hour, lt.min,
		    lt.sec);
		tz_local(z, m, &back);
		if (m > t || back.year != lt.year || back.yday != lt.yday ||
		    back.hour != lt.hour || back.min != lt.min ||
		    back.sec != lt.sec)
			fuzz_fail("tz_mktime(tz_local(%lld)) = %lld",
			    (long long)t, (long long)m);
	}
	tz_free(z);
	return 0;
}
