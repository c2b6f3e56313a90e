/*
 * The outbox: the durable queue of actions (outbox.h).
 */
#include "config.h"

#include "store/store.h"

/* The name of an outbox status, as show and outbox print it. */
const char *
outbox_status_name(int status)
{
	switch (status) {
	case OUTBOX_PENDING:	return "pending";
	case OUTBOX_INFLIGHT:	return "pending";
	case OUTBOX_DONE:	return "done";
	case OUTBOX_RETRYING:	return "retrying";
	case OUTBOX_DEAD:	return "dead";
	case OUTBOX_HELD:	return "held";
	}
	return "unknown";
}
