/*
 * Time zones of the system's tz database (tzdata), by IANA name.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* Is zone a time zone of the system's tz database? */
int
tz_valid(const char *zone)
{
	const char	*dir = getenv("TZDIR");
	char		*path;
	int		 ok;

	if (strcmp(zone, "UTC") == 0)
		return 1;
	if (*zone == '\0' || *zone == '/' || strstr(zone, "..") != NULL ||
	    strlen(zone) > 64 || strspn(zone, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/_-+") != strlen(zone))
		return 0;
	path = xprintf("%s/%s", dir != NULL && *dir != '\0' ? dir :
	    "/usr/share/zoneinfo", zone);
	ok = access(path, R_OK) == 0;
	free(path);
	return ok;
}
