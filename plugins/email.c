/*
 * email: mail a templated message to the subject, by SMTP through libcurl
 * (smtp://, smtps://, STARTTLS, AUTH) or into a local Maildir. Templates are
 * NAME.subject, NAME.txt and optionally NAME.html in the templates folder.
 * Subjects whose "unsubscribed" trait is true are held, never mailed.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "journeyd/plugin.h"
#include "mime.h"
#include "putil.h"

#define EMAIL_TEMPLATE_MAX	(1024 * 1024)

struct email {
	char			*smtp;		/* URL, or NULL with maildir */
	char			*maildir;
	struct mime_mailbox	 from;
	char			*templates;
	char			*user;
	char			*password;
	size_t			 passwordlen;
	int			 starttls;
	char			*ca_file;	/* CA bundle to trust, or NULL */
	char			*unsubscribe_url;
	long			 connect_timeout;
	long			 timeout;
	char			 hostname[256];	/* for Maildir file names */
	atomic_uint		 counter;
	struct putil_pool	*curls;
};

/* The three parts of a template, expanded for one action: the subject
 * trimmed, the text, and the HTML with every value HTML-escaped (the
 * host's strings). */
struct email_content {
	const char	*subject;
	const char	*text;
	const char	*html;		/* or NULL */
};

/* The message being read by curl. */
struct email_upload {
	const char	*p;
	size_t		 left;
};

static const struct jd_setting email_settings[] = {
	{ "smtp", JD_T_STRING, 0, NULL,
	  "mail server URL: smtp://host:port or smtps://host:port" },
	{ "maildir", JD_T_STRING, 0, NULL,
	  "deliver into this Maildir instead of by SMTP" },
	{ "from", JD_T_STRING, 1, NULL, "sender: \"Name <addr>\" or addr" },
	{ "templates", JD_T_STRING, 1, NULL,
	  "folder of NAME.subject, NAME.txt, NAME.html" },
	{ "user", JD_T_STRING, 0, NULL, "SMTP AUTH user name" },
	{ "password_file", JD_T_FILE, 0, NULL,
	  "the SMTP AUTH password" },
	{ "starttls", JD_T_BOOL, 0, "false",
	  "require STARTTLS on an smtp:// connection" },
	{ "ca_file", JD_T_STRING, 0, NULL,
	  "CA certificates to trust for TLS (default: the system's)" },
	{ "unsubscribe_url", JD_T_STRING, 0, NULL,
	  "List-Unsubscribe URL (a template)" },
	{ "connect_timeout", JD_T_DURATION, 0, "10s",
	  "longest wait for the connection" },
	{ "request_timeout", JD_T_DURATION, 0, "30s",
	  "longest a whole SMTP session may take" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting email_params[] = {
	{ "template", JD_T_STRING, 1, NULL, "template name in templates" },
	{ "to", JD_T_STRING, 0, NULL,
	  "recipient (a template); default: the email trait" },
	{ NULL, 0, 0, NULL, NULL }
};

/* Free an instance's state. */
static void
email_free(struct email *em)
{
	if (em == NULL)
		return;
	free(em->smtp);
	free(em->ca_file);
	free(em->maildir);
	mime_mailbox_free(&em->from);
	free(em->templates);
	free(em->user);
	if (em->password != NULL) {
		OPENSSL_cleanse(em->password, em->passwordlen);
		free(em->password);
	}
	free(em->unsubscribe_url);
	putil_pool_free(em->curls);
	free(em);
}

/* Create a folder unless it exists. */
static int
email_mkdir(const char *path, char *err, size_t errlen)
{
	struct stat	 sb;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	snprintf(err, errlen, "%s: %s", path, errno == EEXIST ?
	    "not a folder" : strerror(errno));
	return -1;
}

/* Make a Maildir's folders (the Maildir itself, tmp, new, cur). */
static int
email_maildir_init(const char *dir, char *err, size_t errlen)
{
	static const char *subs[] = { "tmp", "new", "cur" };
	char	*path;
	int	 rc;

	if (email_mkdir(dir, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		path = putil_printf("%s/%s", dir, subs[i]);
		rc = email_mkdir(path, err, errlen);
		free(path);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Read an instance's settings into a new state; NULL with err when they
 * are wrong. Reads the password; creates and opens nothing. */
static struct email *
email_new(const struct jd_host *host, const struct jd_settings *settings,
    char *err, size_t errlen)
{
	struct email	*em;
	struct stat	 sb;
	const char	*smtp, *maildir, *v;

	em = putil_calloc(1, sizeof *em);
	smtp = host->setting(settings, "smtp");
	maildir = host->setting(settings, "maildir");
	if ((smtp == NULL) == (maildir == NULL)) {
		snprintf(err, errlen, "set one of smtp and maildir");
		goto fail;
	}
	if (smtp != NULL) {
		if (strncmp(smtp, "smtp://", 7) != 0 &&
		    strncmp(smtp, "smtps://", 8) != 0) {
			snprintf(err, errlen, "smtp must start with smtp:// "
			    "or smtps://");
			goto fail;
		}
		em->smtp = putil_strdup(smtp);
	} else {
		if (stat(maildir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "maildir: %s: not a folder",
			    maildir);
			goto fail;
		}
		em->maildir = putil_strdup(maildir);
	}

	v = host->setting(settings, "from");
	if (v == NULL || mime_parse_mailbox(v, &em->from) != 0) {
		snprintf(err, errlen, "from is not an address: %s",
		    v != NULL ? v : "(none)");
		goto fail;
	}
	if ((v = host->setting(settings, "templates")) == NULL) {
		snprintf(err, errlen, "templates is required");
		goto fail;
	}
	if (stat(v, &sb) != 0) {
		snprintf(err, errlen, "templates: %s: %s", v, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "templates: %s: not a folder", v);
		goto fail;
	}
	em->templates = putil_strdup(v);

	if ((v = host->setting(settings, "user")) != NULL)
		em->user = putil_strdup(v);
	if ((v = host->setting(settings, "password_file")) != NULL) {
		if (em->user == NULL) {
			snprintf(err, errlen, "password_file needs user");
			goto fail;
		}
		if (putil_read_secret(v, &em->password, &em->passwordlen,
		    err, errlen) != 0)
			goto fail;
	}
	em->starttls = host->setting_int(settings, "starttls") != 0;
	if ((v = host->setting(settings, "ca_file")) != NULL)
		em->ca_file = putil_strdup(v);
	if ((v = host->setting(settings, "unsubscribe_url")) != NULL)
		em->unsubscribe_url = putil_strdup(v);

	em->connect_timeout = (long)host->setting_int(settings,
	    "connect_timeout");
	em->timeout = (long)host->setting_int(settings, "request_timeout");
	if (em->connect_timeout <= 0 || em->timeout <= 0) {
		snprintf(err, errlen, "connect_timeout and request_timeout "
		    "must be positive");
		goto fail;
	}
	return em;

fail:
	email_free(em);
	return NULL;
}

/* Check an instance's settings, without side effects. */
static int
email_check_settings(const struct jd_host *host,
    const struct jd_settings *settings, char *err, size_t errlen)
{
	struct email	*em;

	if ((em = email_new(host, settings, err, errlen)) == NULL)
		return -1;
	email_free(em);
	return 0;
}

/* Start an instance: its settings, the password read once, the Maildir's
 * folders made. */
static int
email_init(const struct jd_host *host, const struct jd_settings *settings,
    void **state, char *err, size_t errlen)
{
	struct email	*em;

	if ((em = email_new(host, settings, err, errlen)) == NULL)
		return -1;
	if (em->maildir != NULL &&
	    email_maildir_init(em->maildir, err, errlen) != 0) {
		email_free(em);
		return -1;
	}
	if (gethostname(em->hostname, sizeof em->hostname - 1) != 0)
		snprintf(em->hostname, sizeof em->hostname, "localhost");
	for (char *p = em->hostname; *p != '\0'; p++) {
		if (*p == '/' || *p == ':')
			*p = '_';
	}
	em->curls = putil_curl_pool();
	*state = em;
	return 0;
}

/* Is name a template name: not empty, not absolute, no "..". */
static int
email_template_name(const char *name)
{
	return *name != '\0' && *name != '/' && strstr(name, "..") == NULL &&
	    strpbrk(name, "\r\n") == NULL;
}

/*
 * Check one action's parameters, without the instance's state: the
 * template's files must be readable; hand the host every template the
 * action expands (the files, and "to").
 */
static int
email_check(void *state, const struct jd_host *host,
    const struct jd_action *a, char *err, size_t errlen)
{
	static const char	*exts[] = { "subject", "txt", "html" };
	const char		*name = host->param(a, "template");
	const char		*dir = host->setting(a->settings, "templates");
	char			*path, *text, msg[256];
	int			 rc = 0;

	if (name == NULL || !email_template_name(name)) {
		snprintf(err, errlen, "email: %s", name == NULL ?
		    "template is required" : "bad template name");
		return -1;
	}
	for (size_t i = 0; dir != NULL && i < 3 && rc == 0; i++) {
		path = putil_printf("%s/%s.%s", dir, name, exts[i]);
		/* The HTML part is optional. */
		if (i == 2 && access(path, F_OK) != 0 && errno == ENOENT)
			;
		else if (putil_read_file(path, EMAIL_TEMPLATE_MAX, &text, NULL,
		    msg, sizeof msg) == 0) {
			host->check_template(a, path, text);
			free(text);
		} else {
			snprintf(err, errlen, "email: template \"%s\": %s",
			    name, msg);
			rc = -1;
		}
		free(path);
	}
	host->check_template(a, NULL, host->param(a, "to"));
	return rc;
}

/* Read and expand one template file (mode: JD_EXPAND_TEXT or _HTML); *out
 * stays NULL when it is optional and missing. */
static int
email_render_file(struct email *em, const struct jd_host *host,
    const struct jd_action *action, const char *name, const char *ext,
    int mode, const char **out, char *reason, size_t reasonlen)
{
	char	*path, *tmpl;
	int	 rc;

	*out = NULL;
	path = putil_printf("%s/%s.%s", em->templates, name, ext);
	if (mode == JD_EXPAND_HTML && access(path, F_OK) != 0 &&
	    errno == ENOENT) {
		free(path);
		return 0;
	}
	rc = putil_read_file(path, EMAIL_TEMPLATE_MAX, &tmpl, NULL, reason,
	    reasonlen);
	free(path);
	if (rc != 0)
		return -1;
	*out = host->expand(action, tmpl, mode);
	free(tmpl);
	if (*out == NULL) {
		snprintf(reason, reasonlen, "cannot render %s.%s", name, ext);
		return -1;
	}
	return 0;
}

/* Render the template's subject, text and html for an action. */
static int
email_render(struct email *em, const struct jd_host *host,
    const struct jd_action *action, const char *name,
    struct email_content *c, char *reason, size_t reasonlen)
{
	size_t	 len;

	if (email_render_file(em, host, action, name, "subject",
	    JD_EXPAND_TEXT, &c->subject, reason, reasonlen) != 0 ||
	    email_render_file(em, host, action, name, "txt", JD_EXPAND_TEXT,
	    &c->text, reason, reasonlen) != 0 ||
	    email_render_file(em, host, action, name, "html", JD_EXPAND_HTML,
	    &c->html, reason, reasonlen) != 0)
		return -1;
	/* The subject file's line break is not part of the subject. */
	len = strlen(c->subject);
	while (len > 0 && (c->subject[len - 1] == '\n' ||
	    c->subject[len - 1] == '\r' || c->subject[len - 1] == ' '))
		len--;
	c->subject = host->format(action, "%.*s", (int)len, c->subject);
	return 0;
}

/* The recipient of an action: "to" rendered, or the email trait. */
static int
email_recipient(const struct jd_host *host, const struct jd_action *action,
    struct mime_mailbox *to, char *reason, size_t reasonlen)
{
	const char	*tmpl, *text;

	if ((tmpl = host->param(action, "to")) != NULL)
		text = host->expand(action, tmpl, JD_EXPAND_TEXT);
	else
		text = host->value(action, "email");
	if (text == NULL || text[strspn(text, " \t")] == '\0') {
		snprintf(reason, reasonlen, "no recipient");
		return -1;
	}
	if (strpbrk(text, "\r\n") != NULL ||
	    mime_parse_mailbox(text, to) != 0) {
		snprintf(reason, reasonlen, "bad recipient address");
		return -1;
	}
	return 0;
}

/* Feed the message to curl. */
static size_t
email_read(char *out, size_t size, size_t n, void *arg)
{
	struct email_upload	*up = arg;
	size_t			 len = size * n;

	if (len > up->left)
		len = up->left;
	memcpy(out, up->p, len);
	up->p += len;
	up->left -= len;
	return len;
}

/* Send a message by SMTP. */
static enum jd_result
email_smtp(struct email *em, const char *rcpt, const char *message,
    char *reason, size_t reasonlen)
{
	struct email_upload	 up = { message, strlen(message) };
	struct curl_slist	*rcpts;
	char			 errbuf[CURL_ERROR_SIZE] = "", *addr;
	long			 code = 0;
	CURLcode		 rc;
	CURL			*curl;

	if ((curl = putil_curl_get(em->curls)) == NULL) {
		snprintf(reason, reasonlen, "cannot start a curl handle");
		return JD_RETRY;
	}
	addr = putil_printf("<%s>", rcpt);
	rcpts = curl_slist_append(NULL, addr);
	free(addr);
	addr = putil_printf("<%s>", em->from.addr);

	curl_easy_setopt(curl, CURLOPT_URL, em->smtp);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, em->connect_timeout);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, em->timeout);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, email_read);
	curl_easy_setopt(curl, CURLOPT_READDATA, &up);
	curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.left);
	if (em->starttls)
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (em->ca_file != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, em->ca_file);
	if (em->user != NULL)
		curl_easy_setopt(curl, CURLOPT_USERNAME, em->user);
	if (em->password != NULL)
		curl_easy_setopt(curl, CURLOPT_PASSWORD, em->password);

	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	/* The handle outlives this call: drop pointers to our data. */
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(curl, CURLOPT_READDATA, NULL);
	putil_curl_put(em->curls, curl);
	curl_slist_free_all(rcpts);
	free(addr);

	if (rc == CURLE_OK)
		return JD_DONE;
	if (code != 0)
		snprintf(reason, reasonlen, "SMTP %ld: %s", code,
		    *errbuf != '\0' ? errbuf : curl_easy_strerror(rc));
	else
		snprintf(reason, reasonlen, "%s", *errbuf != '\0' ? errbuf :
		    curl_easy_strerror(rc));
	putil_one_line(reason);
	if (code >= 500 && code <= 599)
		return JD_FAILED;
	return JD_RETRY;
}

/* Write all of len bytes. */
static int
email_write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Deliver into the Maildir: write tmp/NAME with local line ends, sync it,
 * then rename it into new/, and sync new/.
 */
static enum jd_result
email_maildir(struct email *em, const char *rcpt, const char *message,
    char *reason, size_t reasonlen)
{
	struct putil_buf	 b = { NULL, 0, 0 };
	struct timeval		 tv;
	char			*name, *tmp = NULL, *new = NULL, *dir;
	int			 fd, rc = -1;

	putil_buf_printf(&b, "Return-Path: <%s>\nDelivered-To: %s\n",
	    em->from.addr, rcpt);
	for (const char *p = message; *p != '\0'; p++) {
		if (*p != '\r')
			putil_buf_add(&b, p, 1);
	}

	gettimeofday(&tv, NULL);
	name = putil_printf("%lld.M%ldP%ldQ%u.%s", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(),
	    atomic_fetch_add(&em->counter, 1) + 1, em->hostname);
	tmp = putil_printf("%s/tmp/%s", em->maildir, name);
	new = putil_printf("%s/new/%s", em->maildir, name);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(reason, reasonlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (email_write_all(fd, b.s, b.len) != 0 || fsync(fd) != 0) {
		snprintf(reason, reasonlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, new) != 0) {
		snprintf(reason, reasonlen, "%s: %s", new, strerror(errno));
		unlink(tmp);
		goto out;
	}
	dir = putil_printf("%s/new", em->maildir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
	free(dir);
	rc = 0;

out:
	putil_buf_free(&b);
	free(name);
	free(tmp);
	free(new);
	return rc == 0 ? JD_DONE : JD_RETRY;
}

/* Make a Message-ID's left part from the action id: atext only. */
static char *
email_message_id(const char *id)
{
	char	*s, *p;

	s = putil_printf("%s@journeyd", *id != '\0' ? id : "none");
	for (p = s; *p != '@'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr("!#$%&'*+-/=?^_`{|}~.", *p) != NULL))
			*p = '_';
	}
	return s;
}

/* Mail one action. */
static void
email_perform(void *state, const struct jd_host *host,
    const struct jd_action *action, struct jd_outcome *o)
{
	struct email		*em = state;
	struct email_content	 c = { NULL, NULL, NULL };
	struct mime_mailbox	 to = { NULL, NULL };
	struct mime_message	 m;
	const char		*name, *unsub;
	char			*msgid = NULL, *message = NULL;

	if ((unsub = host->value(action, "unsubscribed")) != NULL &&
	    strcmp(unsub, "true") == 0) {
		snprintf(o->reason, o->reasonlen, "unsubscribed");
		o->status = JD_HELD;
		return;
	}
	o->status = JD_FAILED;
	if ((name = host->param(action, "template")) == NULL ||
	    !email_template_name(name)) {
		snprintf(o->reason, o->reasonlen, "%s", name == NULL ?
		    "no template" : "bad template name");
		goto out;
	}
	if (email_recipient(host, action, &to, o->reason, o->reasonlen) != 0)
		goto out;
	if (email_render(em, host, action, name, &c, o->reason,
	    o->reasonlen) != 0)
		goto out;

	memset(&m, 0, sizeof m);
	m.date = action->now;
	m.message_id = msgid = email_message_id(action->id);
	m.from = &em->from;
	m.to = &to;
	m.subject = c.subject;
	m.text = c.text;
	m.html = c.html;
	if (em->unsubscribe_url != NULL)
		m.unsubscribe = host->expand(action, em->unsubscribe_url,
		    JD_EXPAND_TEXT);
	message = mime_build(&m);

	if (em->smtp != NULL)
		o->status = email_smtp(em, to.addr, message, o->reason,
		    o->reasonlen);
	else
		o->status = email_maildir(em, to.addr, message, o->reason,
		    o->reasonlen);

out:
	if (o->status == JD_DONE)
		host->log(host, JD_LOG_DEBUG, "email: %s: %s to %s",
		    action->id, em->smtp != NULL ? "sent" : "delivered",
		    to.addr);
	else
		host->log(host, o->status == JD_FAILED ? JD_LOG_WARNING :
		    JD_LOG_INFO, "email: %s: %s", action->id, o->reason);
	mime_mailbox_free(&to);
	free(msgid);
	free(message);
}

/* Stop an instance. */
static void
email_fini(void *state)
{
	email_free(state);
}

static const struct jd_plugin email_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "email",
	.description = "mail a templated message by SMTP or into a Maildir",
	.settings = email_settings,
	.params = email_params,
	.init = email_init,
	.check = email_check,
	.fini = email_fini,
	.setting_size = sizeof(struct jd_setting),
	.check_settings = email_check_settings,
	.perform = email_perform,
};

JD_PLUGIN_DECLARE(email_plugin)
