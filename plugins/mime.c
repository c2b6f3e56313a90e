/*
 * Internet Message Format (RFC 5322, MIME) for the email plugin. Every value
 * that comes from data is made one line before it reaches a header, and
 * non-ASCII header text is written as RFC 2047 encoded words (base64 through
 * OpenSSL). Bodies are 7bit when they can be, else quoted-printable.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime.h"

#define MIME_BOUNDARY	"=_journeyd_alternative"
#define MIME_QP_LINE	76

/* Trim leading and trailing white space in place; returns the start. */
static char *
mime_trim(char *s)
{
	size_t	 len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	return s;
}

/* Is addr a plausible address: local@domain, no space, control or special? */
int
mime_valid_addr(const char *addr)
{
	const char	*at, *p;

	if ((at = strchr(addr, '@')) == NULL || at == addr || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return 0;
	for (p = addr; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f ||
		    strchr("<>()[],;:\\\"", *p) != NULL)
			return 0;
	}
	return 1;
}

/* Parse "Name <addr>", "\"Name\" <addr>" or "addr". Returns 0 or -1. */
int
mime_parse_mailbox(const char *text, struct mime_mailbox *mb)
{
	char	*copy, *s, *open, *name;
	size_t	 len;

	mb->name = mb->addr = NULL;
	copy = putil_strdup(text);
	putil_one_line(copy);
	s = mime_trim(copy);
	len = strlen(s);
	if (len > 0 && s[len - 1] == '>' && (open = strrchr(s, '<')) != NULL) {
		s[len - 1] = '\0';
		*open = '\0';
		mb->addr = putil_strdup(mime_trim(open + 1));
		name = mime_trim(s);
		len = strlen(name);
		if (len >= 2 && name[0] == '"' && name[len - 1] == '"') {
			name[len - 1] = '\0';
			name++;
		}
		if (*name != '\0')
			mb->name = putil_strdup(name);
	} else
		mb->addr = putil_strdup(s);
	free(copy);
	if (!mime_valid_addr(mb->addr)) {
		mime_mailbox_free(mb);
		return -1;
	}
	return 0;
}

/* Free a mailbox's strings. */
void
mime_mailbox_free(struct mime_mailbox *mb)
{
	free(mb->name);
	free(mb->addr);
	mb->name = mb->addr = NULL;
}

/*
 * Append text as RFC 2047 "B" encoded words in UTF-8, each at most 75
 * characters, folded onto continuation lines. used is how much of the
 * current line is taken already. Words never split a UTF-8 sequence.
 */
void
mime_encode_words(struct putil_buf *b, const char *text, size_t used)
{
	const unsigned char	*p = (const unsigned char *)text;
	size_t			 left = strlen(text), n, room;
	char			*b64;

	if (left == 0) {
		putil_buf_puts(b, "=?UTF-8?B?" "?=");
		return;
	}
	while (left > 0) {
		/* What fits on this line; never more than 45 bytes (a
		 * 72-character word). */
		room = used + 12 < 76 ? (76 - used - 12) / 4 * 3 : 0;
		if (room < 6) {
			putil_buf_puts(b, "\r\n ");
			used = 1;
			continue;
		}
		n = left < room ? left : room;
		if (n > 45)
			n = 45;
		while (n < left && n > 1 && (p[n] & 0xc0) == 0x80)
			n--;
		b64 = putil_base64(p, n);
		putil_buf_printf(b, "=?UTF-8?B?%s?=", b64);
		used += 12 + strlen(b64);
		free(b64);
		p += n;
		left -= n;
		if (left > 0) {
			putil_buf_puts(b, "\r\n ");
			used = 1;
		}
	}
}

/* Append a header's unstructured text: as is when plain, else encoded. */
static void
mime_unstructured(struct putil_buf *b, const char *name, const char *value)
{
	char	*v;

	v = putil_strdup(value);
	putil_one_line(v);
	putil_buf_printf(b, "%s: ", name);
	if (putil_is_ascii(v) && strstr(v, "=?") == NULL && strlen(v) < 900)
		putil_buf_puts(b, v);
	else
		mime_encode_words(b, v, strlen(name) + 2);
	putil_buf_puts(b, "\r\n");
	free(v);
}

/* Append a display name: an atom phrase, a quoted string, or encoded. */
static void
mime_phrase(struct putil_buf *b, const char *name, size_t used)
{
	const char	*p;
	int		 plain = 1;

	if (!putil_is_ascii(name) || strstr(name, "=?") != NULL) {
		mime_encode_words(b, name, used);
		return;
	}
	for (p = name; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != ' ' &&
		    strchr("!#$%&'*+-/=?^_`{|}~", *p) == NULL)
			plain = 0;
	}
	if (plain) {
		putil_buf_puts(b, name);
		return;
	}
	putil_buf_add(b, "\"", 1);
	for (p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			putil_buf_add(b, "\\", 1);
		putil_buf_add(b, p, 1);
	}
	putil_buf_add(b, "\"", 1);
}

/* Append an address header: "Name: display <addr>" or "Name: addr". */
static void
mime_address(struct putil_buf *b, const char *header,
    const struct mime_mailbox *mb)
{
	char	*name;

	putil_buf_printf(b, "%s: ", header);
	if (mb->name != NULL) {
		name = putil_strdup(mb->name);
		putil_one_line(name);
		mime_phrase(b, name, strlen(header) + 2);
		putil_buf_printf(b, " <%s>\r\n", mb->addr);
		free(name);
	} else
		putil_buf_printf(b, "%s\r\n", mb->addr);
}

/* Append an RFC 5322 date, in UTC, with English names whatever the locale. */
static void
mime_date(struct putil_buf *b, int64_t t)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	putil_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Can text go as 7bit: ASCII, no NUL, no line over 998 characters? */
static int
mime_is_7bit(const char *text)
{
	size_t	 line = 0;

	for (const char *p = text; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			return 0;
		if (*p == '\n' || *p == '\r')
			line = 0;
		else if (++line > 998)
			return 0;
	}
	return 1;
}

/* Append text with every line break as CRLF, ending with one. */
static void
mime_crlf(struct putil_buf *b, const char *text)
{
	const char	*p;

	for (p = text; *p != '\0'; p++) {
		if (*p == '\r') {
			if (p[1] == '\n')
				p++;
			putil_buf_add(b, "\r\n", 2);
		} else if (*p == '\n')
			putil_buf_add(b, "\r\n", 2);
		else
			putil_buf_add(b, p, 1);
	}
	if (b->len < 2 || memcmp(b->s + b->len - 2, "\r\n", 2) != 0)
		putil_buf_add(b, "\r\n", 2);
}

/*
 * Append text as quoted-printable (RFC 2045): lines of at most 76
 * characters, line breaks as CRLF, white space before a break encoded.
 */
void
mime_quoted_printable(struct putil_buf *b, const char *text)
{
	const unsigned char	*p = (const unsigned char *)text;
	char			 token[4];
	size_t			 line = 0, n;
	int			 at_end;

	for (; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			if (*p == '\r' && p[1] == '\n')
				p++;
			putil_buf_add(b, "\r\n", 2);
			line = 0;
			continue;
		}
		at_end = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';
		if ((*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && !at_end)) {
			token[0] = (char)*p;
			n = 1;
		} else {
			snprintf(token, sizeof token, "=%02X", *p);
			n = 3;
		}
		/* Keep room for the soft break's '='. */
		if (line + n > MIME_QP_LINE - 1) {
			putil_buf_add(b, "=\r\n", 3);
			line = 0;
		}
		putil_buf_add(b, token, n);
		line += n;
	}
	if (b->len < 2 || memcmp(b->s + b->len - 2, "\r\n", 2) != 0)
		putil_buf_add(b, "\r\n", 2);
}

/* Append one body part's headers and content. */
static void
mime_part(struct putil_buf *b, const char *type, const char *text, int qp)
{
	putil_buf_printf(b, "Content-Type: %s; charset=UTF-8\r\n", type);
	if (qp) {
		putil_buf_puts(b, "Content-Transfer-Encoding: "
		    "quoted-printable\r\n\r\n");
		mime_quoted_printable(b, text);
	} else {
		putil_buf_puts(b, "Content-Transfer-Encoding: 7bit\r\n\r\n");
		mime_crlf(b, text);
	}
}

/* Build a whole message, CRLF line ends. Returns a new string. */
char *
mime_build(const struct mime_message *m)
{
	struct putil_buf	 b = { NULL, 0, 0 };
	char			*url;

	mime_date(&b, m->date);
	mime_address(&b, "From", m->from);
	mime_address(&b, "To", m->to);
	mime_unstructured(&b, "Subject", m->subject);
	putil_buf_printf(&b, "Message-ID: <%s>\r\n", m->message_id);
	putil_buf_puts(&b, "MIME-Version: 1.0\r\n");
	if (m->unsubscribe != NULL && *m->unsubscribe != '\0') {
		url = putil_strdup(m->unsubscribe);
		putil_one_line(url);
		for (char *p = url; *p != '\0'; p++) {
			if (*p == '<' || *p == '>' || *p == ' ')
				*p = '_';
		}
		putil_buf_printf(&b, "List-Unsubscribe: <%s>\r\n", url);
		free(url);
	}
	if (m->html == NULL) {
		mime_part(&b, "text/plain", m->text, !mime_is_7bit(m->text));
		return b.s;
	}
	putil_buf_puts(&b, "Content-Type: multipart/alternative; "
	    "boundary=\"" MIME_BOUNDARY "\"\r\n\r\n");
	/* Quoted-printable never writes "=_": the boundary cannot occur. */
	/* The line break before a boundary belongs to the boundary. */
	putil_buf_puts(&b, "--" MIME_BOUNDARY "\r\n");
	mime_part(&b, "text/plain", m->text, 1);
	putil_buf_puts(&b, "\r\n--" MIME_BOUNDARY "\r\n");
	mime_part(&b, "text/html", m->html, 1);
	putil_buf_puts(&b, "\r\n--" MIME_BOUNDARY "--\r\n");
	return b.s;
}
