/*
 * bench/http's client: posts the lines of a file of messages to journeyd's
 * /v1/batch, BATCH a request, over CONNS keep-alive connections at once
 * (libcurl's multi interface), as a Segment client with Basic auth does.
 * Every answer must be 200 {"success":true} (nothing rejected), else it
 * exits 1.
 *
 *   http_client URL WRITE_KEY FILE BATCH CONNS
 *
 * Prints "SECONDS MESSAGES REQUESTS": the wall time from the first request
 * sent to the last answer, and how many were posted.
 */
#define _GNU_SOURCE 1

#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct slot {
	CURL	*easy;
	char	*body;
	size_t	 len;
	size_t	 cap;
	char	 answer[256];
	size_t	 alen;
};

static const char	*file_pos, *file_end;

/* Seconds on the monotonic clock. */
static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keep the start of an answer. */
static size_t
on_answer(char *p, size_t size, size_t n, void *arg)
{
	struct slot	*s = arg;
	size_t		 len = size * n, room = sizeof s->answer - 1 - s->alen;

	memcpy(s->answer + s->alen, p, len < room ? len : room);
	s->alen += len < room ? len : room;
	s->answer[s->alen] = '\0';
	return len;
}

/* Append len bytes to a slot's body. */
static void
add(struct slot *s, const char *p, size_t len)
{
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		if ((s->body = realloc(s->body, s->cap)) == NULL)
			abort();
	}
	memcpy(s->body + s->len, p, len);
	s->len += len;
}

/* Fill a slot's body with the next batch of lines; 0 when none is left. */
static int
next_batch(struct slot *s, int batch)
{
	const char	*nl;
	int		 n = 0;

	s->len = 0;
	s->alen = 0;
	add(s, "{\"batch\":[", 10);
	while (n < batch && file_pos < file_end) {
		if ((nl = memchr(file_pos, '\n', file_end - file_pos)) == NULL)
			nl = file_end;
		if (nl > file_pos) {
			if (n++ > 0)
				add(s, ",", 1);
			add(s, file_pos, nl - file_pos);
		}
		file_pos = nl + 1;
	}
	add(s, "]}", 2);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)s->len);
	return n;
}

int
main(int argc, char **argv)
{
	struct curl_slist	*hdrs = NULL;
	struct slot		*slots;
	struct stat		 sb;
	CURLM			*multi;
	CURLMsg			*msg;
	char			*userpwd;
	long			 messages = 0, requests = 0, code;
	double			 start;
	int			 fd, batch, conns, running, left, n;

	if (argc != 6) {
		fprintf(stderr, "usage: http_client URL KEY FILE BATCH CONNS\n");
		return 2;
	}
	batch = atoi(argv[4]);
	conns = atoi(argv[5]);
	if ((fd = open(argv[3], O_RDONLY)) == -1 || fstat(fd, &sb) != 0 ||
	    (file_pos = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd,
	    0)) == MAP_FAILED) {
		perror(argv[3]);
		return 1;
	}
	file_end = file_pos + sb.st_size;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (asprintf(&userpwd, "%s:", argv[2]) == -1)
		abort();
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	multi = curl_multi_init();
	slots = calloc(conns, sizeof *slots);
	start = now();
	for (int i = 0; i < conns; i++) {
		struct slot *s = &slots[i];

		s->easy = curl_easy_init();
		curl_easy_setopt(s->easy, CURLOPT_URL, argv[1]);
		curl_easy_setopt(s->easy, CURLOPT_USERPWD, userpwd);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_answer);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT, 10L);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 60L);
		if ((n = next_batch(s, batch)) > 0) {
			messages += n;
			requests++;
			curl_multi_add_handle(multi, s->easy);
		}
	}
	do {
		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct slot *s;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 200 ||
			    strncmp(s->answer, "{\"success\":true}", 16) != 0) {
				fprintf(stderr, "http_client: %s, %ld: %s\n",
				    curl_easy_strerror(msg->data.result), code,
				    s->answer);
				return 1;
			}
			curl_multi_remove_handle(multi, s->easy);
			if ((n = next_batch(s, batch)) > 0) {
				messages += n;
				requests++;
				curl_multi_add_handle(multi, s->easy);
				running++;
			}
		}
		if (running > 0)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	} while (running > 0);
	printf("%.3f %ld %ld\n", now() - start, messages, requests);
	return 0;
}
