/*
 * dispatch-client: the plain client bench/dispatch measures the HTTP server's
 * own capacity with. THREADS threads, each with one libcurl handle reusing
 * its connection, POST TOTAL requests shaped like testsink's (JSON body,
 * Content-Type, Idempotency-Key) to URL. Prints requests per second.
 *
 * usage: dispatch-client URL THREADS TOTAL
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

static const char	*url;
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
	long	 id0 = (long)(intptr_t)arg * per_thread, bad = 0;

	for (long i = 0; i < per_thread; i++) {
		struct curl_slist *hdrs = NULL;
		char body[512], key[300];
		long code = 0;

		snprintf(body, sizeof body, "{\"id\":\"%032lx\",\"journey\":"
		    "\"bench\",\"rule\":\"go\",\"attempt\":1}", id0 + i);
		snprintf(key, sizeof key, "Idempotency-Key: %032lx", id0 + i);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = curl_slist_append(hdrs, key);
		curl_easy_setopt(h, CURLOPT_URL, url);
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

	if (argc != 4) {
		fprintf(stderr, "usage: dispatch-client URL THREADS TOTAL\n");
		return 2;
	}
	url = argv[1];
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
	return failures > 0;
}
