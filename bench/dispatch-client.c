/*
 * dispatch-client: the plain client bench/dispatch measures the HTTP server's
 * own capacity with. THREADS threads, each with one libcurl handle reusing
 * its connection, POST TOTAL requests to URL shaped like the webhook
 * plugin's: the same headers (User-Agent, Content-Type, webhook-id,
 * webhook-timestamp, Idempotency-Key, no Expect) and a body of the same size,
 * BODYFILE's JSON document (written by bench/dispatch) with the id, the
 * first 32 zeros in it, made unique per request. Prints requests per second.
 *
 * usage: dispatch-client URL THREADS TOTAL BODYFILE
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

static const char	*url;
static char		*body0;		/* the body, id zeroed */
static size_t		 idpos;		/* where the id is in it */
static long		 per_thread;
static long		 failures;
static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void *
client(void *arg)
{
	CURL	*h = curl_easy_init();
	char	*body = strdup(body0);
	long	 id0 = (long)(intptr_t)arg * per_thread, bad = 0;

	for (long i = 0; i < per_thread; i++) {
		struct curl_slist *hdrs = NULL;
		char id[33], key[300], wid[300], ts[64];
		long code = 0;

		snprintf(id, sizeof id, "%032lx", id0 + i);
		memcpy(body + idpos, id, 32);
		snprintf(wid, sizeof wid, "webhook-id: %s", id);
		snprintf(ts, sizeof ts, "webhook-timestamp: %lld",
		    (long long)time(NULL));
		snprintf(key, sizeof key, "Idempotency-Key: %s", id);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = curl_slist_append(hdrs, "Expect:");
		hdrs = curl_slist_append(hdrs, wid);
		hdrs = curl_slist_append(hdrs, ts);
		hdrs = curl_slist_append(hdrs, key);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "journeyd/0.1.0");
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		if (curl_easy_perform(h) != CURLE_OK ||
		    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code),
		    code != 200))
			bad++;
		curl_slist_free_all(hdrs);
	}
	curl_easy_cleanup(h);
	free(body);
	pthread_mutex_lock(&lock);
	failures += bad;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct timespec	 t0, t1;
	pthread_t	*t;
	int		 n;
	double		 secs;
	char		*zeros;
	FILE		*f;
	long		 len;

	if (argc != 5) {
		fprintf(stderr, "usage: dispatch-client URL THREADS TOTAL "
		    "BODYFILE\n");
		return 2;
	}
	url = argv[1];
	if ((f = fopen(argv[4], "r")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (body0 = calloc(1, len + 1)) == NULL ||
	    fread(body0, 1, len, f) != (size_t)len) {
		fprintf(stderr, "dispatch-client: cannot read %s\n", argv[4]);
		return 2;
	}
	fclose(f);
	if ((zeros = strstr(body0, "00000000000000000000000000000000")) ==
	    NULL) {
		fprintf(stderr, "dispatch-client: no id in %s\n", argv[4]);
		return 2;
	}
	idpos = (size_t)(zeros - body0);
	n = atoi(argv[2]);
	per_thread = atol(argv[3]) / n;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t = calloc(n, sizeof *t);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, client, (void *)(intptr_t)i);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.0f\n", per_thread * n / secs);
	if (failures > 0)
		fprintf(stderr, "dispatch-client: %ld failed requests\n",
		    failures);
	free(t);
	free(body0);
	return failures > 0;
}
