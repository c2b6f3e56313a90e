/*
 * The ingest writer: one thread with its own store connection, to which the
 * HTTP API's requests hand their messages. It takes every request waiting
 * (up to WRITER_GROUP messages), imports their messages in one transaction
 * and commits it, and only then lets each of those requests answer: so
 * that a 200 always means "committed" (WAL with synchronous=NORMAL: a
 * commit outlives a kill -9 of the process), while one fsync serves many
 * requests when they arrive together.
 *
 * Nothing is half-stored: when the store refuses (locked past
 * WRITER_BUSY_MS, full, failing), the whole transaction is rolled back and
 * every request in it answers 503; a request still waiting for its turn
 * when its time is up is withdrawn, untouched, and answers 503 too.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"

#define WRITER_GROUP	4000	/* most messages in one transaction */
#define WRITER_BUSY_MS	2000	/* longest wait for another writer */

enum { JOB_QUEUED, JOB_TAKEN, JOB_DONE };

struct writer {
	sqlite3			*db;
	struct importer		*imp;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 work;		/* a job is queued, or stop */
	pthread_cond_t		 done;		/* a group is done */
	struct writer_job	*head;
	struct writer_job	*tail;
	int			 stopping;
	struct ingest_metrics	 metrics;
	void			(*on_commit)(void *);	/* under lock */
	void			*on_commit_arg;
};

/* Seconds on the monotonic clock. */
static double
writer_clock(void)
{
	return (double)time_mono_usec() / 1e6;
}

/* Import message i of a job into the open transaction: 0 imported, 1 a
 * duplicate, -1 rejected (reason in err), -2 a database fault (the
 * transaction rolled back). */
static int
writer_import(struct importer *imp, struct writer_job *job, int i, char *err,
    size_t errlen)
{
	const struct body	*b = job->body;
	const struct body_msg	*m = &b->msgs[i];
	struct import_ctx	 ctx;

	if (m->reason != NULL) {
		snprintf(err, errlen, "%s", m->reason);
		return -1;
	}
	ctx.received = job->received;
	ctx.sent_at = b->kind == BODY_BATCH ? b->sent_at : NULL;
	ctx.type = body_type(b->kind);
	return importer_message(imp, body_message(b, i), m->len, &ctx, err,
	    errlen);
}

/* Check that the store takes a write: begin one, and roll it back. */
static int
writer_probe(struct writer *w)
{
	if (store_begin(w->db) != 0)
		return -1;
	store_rollback(w->db);
	return 0;
}

/* Import and commit a group of jobs; set each one's status and outcomes,
 * and count them. */
static void
writer_group(struct writer *w, struct writer_job *group)
{
	struct ingest_metrics	 m = { 0 };
	struct importer		*imp = w->imp;
	struct writer_job	*job;
	void			(*on_commit)(void *), *arg;
	char			 err[512];
	double			 start = writer_clock();
	int			 fault = 0, rc;

	for (job = group; job != NULL; job = job->next)
		if (job->body == NULL)
			job->status = writer_probe(w);
	for (job = group; job != NULL && !fault; job = job->next) {
		for (int i = 0; job->body != NULL && i < job->body->nmsgs;
		    i++) {
			err[0] = '\0';
			rc = writer_import(imp, job, i, err, sizeof err);
			if (rc == -2) {
				fault = 1;
				break;
			}
			job->rc[i] = rc;
			if (rc == -1)
				job->reasons[i] = xstrdup(err);
			m.accepted += rc == 0;
			m.duplicate += rc == 1;
			m.rejected += rc == -1;
		}
	}
	if (!fault && importer_commit(imp) != 0) {
		snprintf(err, sizeof err, "%s", importer_fault(imp));
		fault = 1;
	}
	if (fault)
		log_err("ingest: the store refused the write, nothing of it "
		    "was kept, the requests are answered 503: %s", err);
	pthread_mutex_lock(&w->lock);
	for (job = group; job != NULL; job = job->next) {
		if (job->body != NULL)
			job->status = fault ? -1 : 0;
		job->state = JOB_DONE;
	}
	if (!fault && m.accepted + m.duplicate + m.rejected > 0) {
		w->metrics.accepted += m.accepted;
		w->metrics.duplicate += m.duplicate;
		w->metrics.rejected += m.rejected;
		metrics_ingest_commit(&w->metrics, writer_clock() - start);
	}
	on_commit = !fault && m.accepted > 0 ? w->on_commit : NULL;
	arg = w->on_commit_arg;
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->lock);
	if (on_commit != NULL)
		on_commit(arg);
}

/* Call fn(arg) after each commit that stored a message. */
void
writer_on_commit(struct writer *w, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&w->lock);
	w->on_commit = fn;
	w->on_commit_arg = arg;
	pthread_mutex_unlock(&w->lock);
}

/* Take the jobs at the head of the queue, up to WRITER_GROUP messages
 * (at least one job), as a list. Called locked. */
static struct writer_job *
writer_take(struct writer *w)
{
	struct writer_job	*group = w->head, *last = NULL, *job;
	int			 n = 0;

	for (job = w->head; job != NULL; job = job->next) {
		int k = job->body != NULL ? job->body->nmsgs : 0;

		if (last != NULL && n + k > WRITER_GROUP)
			break;
		n += k;
		job->state = JOB_TAKEN;
		last = job;
	}
	w->head = last->next;
	if (w->head == NULL)
		w->tail = NULL;
	last->next = NULL;
	return group;
}

/* The writer thread: groups of jobs until stopped and the queue is empty. */
static void *
writer_main(void *arg)
{
	struct writer		*w = arg;
	struct writer_job	*group;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->work, &w->lock);
		if (w->head == NULL)
			break;
		group = writer_take(w);
		pthread_mutex_unlock(&w->lock);
		writer_group(w, group);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Start the writer on its own connection to database. NULL, with the
 * reason in err, when the database cannot be opened. */
struct writer *
writer_start(const char *database, char *err, size_t errlen)
{
	struct writer		*w;
	pthread_condattr_t	 ca;

	w = xcalloc(1, sizeof *w);
	if ((w->db = store_open(database, err, errlen)) == NULL) {
		free(w);
		return NULL;
	}
	store_busy_limit(w->db, WRITER_BUSY_MS);
	w->imp = importer_new(w->db, time_now());
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&w->thread, NULL, writer_main, w)) != 0)
		fatalx("pthread_create: %s", strerror(errno));
	return w;
}

/* Remove a job that is still queued. Called locked. */
static void
writer_withdraw(struct writer *w, struct writer_job *job)
{
	struct writer_job	**p, *prev = NULL;

	for (p = &w->head; *p != NULL; prev = *p, p = &(*p)->next) {
		if (*p != job)
			continue;
		*p = job->next;
		if (w->tail == job)
			w->tail = prev;
		return;
	}
}

/*
 * Hand a job to the writer and wait until it is committed. A job not yet
 * taken after wait_ms is withdrawn; once taken, its outcome is waited for
 * (the writer's wait for the store is bounded by WRITER_BUSY_MS). Returns
 * 0 when committed (each message's outcome in job->rc, job->reasons), -1
 * when nothing of it was stored.
 */
int
writer_submit(struct writer *w, struct writer_job *job, int wait_ms)
{
	struct timespec	 deadline;
	int		 status;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return -1;
	}
	job->state = JOB_QUEUED;
	job->status = -1;
	job->next = NULL;
	if (w->tail != NULL)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	pthread_cond_signal(&w->work);
	while (job->state != JOB_DONE) {
		if (job->state == JOB_TAKEN)
			pthread_cond_wait(&w->done, &w->lock);
		else if (pthread_cond_timedwait(&w->done, &w->lock,
		    &deadline) == ETIMEDOUT && job->state == JOB_QUEUED) {
			writer_withdraw(w, job);
			break;
		}
	}
	status = job->state == JOB_DONE ? job->status : -1;
	pthread_mutex_unlock(&w->lock);
	return status;
}

/* The ingest counts so far. */
void
writer_metrics(struct writer *w, struct ingest_metrics *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->metrics;
	pthread_mutex_unlock(&w->lock);
}

/* Stop the writer once the queue is empty, and close its connection. */
void
writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	importer_free(w->imp);
	store_close(w->db);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
