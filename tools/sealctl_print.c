/*
 * sealctl_print: how sealctl shows what seald answers (sealctl.h): every
 * string with control bytes masked, so that a reply cannot drive the
 * terminal; replies of the admin socket as lines and tables; errors as
 * "sealctl: HTTP 404 not_found: ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sd_limits.h"
#include "sealctl.h"

/* s with every byte outside printable ASCII (newline kept when nl) shown
 * as '?': names are ASCII, PEM is base64, anything else is suspect. */
void
sealctl_put_safe(FILE *f, const char *s, int nl)
{
	const unsigned char *p = (const unsigned char *)s;
	int shown;

	for (; *p != '\0'; p++) {
		shown = (*p >= 0x20 && *p < 0x7f) || (nl && *p == '\n');
		fputc(shown ? *p : '?', f);
	}
}

/* A string member of a reply object, else dflt. */
const char *
sealctl_str_of(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* An integer member as text into buf, else "?". */
const char *
sealctl_int_of(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return "?";
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* "INSTANCE #SEQ" of the reply's ledger reference into buf. */
const char *
sealctl_ledger_of(json_t *reply, char *buf, size_t len)
{
	json_t *l = json_object_get(reply, "ledger");
	char seq[24];

	snprintf(buf, len, "%s #%s", sealctl_str_of(l, "instance", "?"),
	    sealctl_int_of(l, "seq", seq, sizeof(seq)));
	return buf;
}

/* "; ledger INSTANCE #SEQ" and the end of the line, on f. */
void
sealctl_put_ledger(FILE *f, json_t *reply)
{
	char lbuf[SD_NAME_MAX + 32];

	fputs("; ledger ", f);
	sealctl_put_safe(f, sealctl_ledger_of(reply, lbuf, sizeof(lbuf)), 0);
	fputc('\n', f);
}

/* A member in unix seconds as RFC 3339 UTC into buf, else "?". */
const char *
sealctl_time_of(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);
	struct tm tm;
	time_t t;

	if (!json_is_integer(v))
		return "?";
	t = (time_t)json_integer_value(v);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "?";
	return buf;
}

/* "NAME vN" of a key or proposal object; " vN" only when it has one. */
void
sealctl_put_name_version(json_t *o)
{
	char vbuf[24];

	sealctl_put_safe(stdout, sealctl_str_of(o, "name", "?"), 0);
	if (json_is_integer(json_object_get(o, "version")))
		printf(
		    " v%s", sealctl_int_of(o, "version", vbuf, sizeof(vbuf)));
}

int
sealctl_bad_reply(const char *what)
{
	fprintf(stderr, "sealctl: seald's reply has no %s\n", what);
	return 1;
}

/* An error reply: "sealctl: HTTP 404 not_found: no key named x". */
void
sealctl_print_error(long status, json_t *root)
{
	json_t *e = json_object_get(root, "error");

	fprintf(stderr, "sealctl: HTTP %ld %.40s: ", status,
	    sealctl_str_of(e, "code", "error"));
	sealctl_put_safe(
	    stderr, sealctl_str_of(e, "message", "no error message"), 0);
	fputc('\n', stderr);
}

/*
 * method on path of the admin socket with body (may be NULL; not
 * consumed).  With json the reply body is printed as it came, error or
 * not.  Returns the exit status: 0 with the reply object in *reply
 * (json_decref it) and the HTTP status, any 2xx, in *code (when not
 * NULL: 202 is a proposal), 1 when seald refused (its code and message
 * on stderr) or answered something else than a JSON object, 2 when the
 * body cannot be built, 3 when seald could not be reached.
 */
int
sealctl_admin_call(const char *sock, const char *method, const char *path,
    json_t *body, int json, long *code, json_t **reply)
{
	struct sealctl_buf b = { NULL, 0, 0 };
	char *txt = NULL;
	json_t *root;
	long status = 0;

	*reply = NULL;
	if (code != NULL)
		*code = 0;
	if (body != NULL && (txt = json_dumps(body, JSON_COMPACT)) == NULL) {
		fprintf(stderr, "sealctl: cannot build the request\n");
		return 2;
	}
	if (sealctl_call(sock, method, path, "application/json", txt,
		txt != NULL ? strlen(txt) : 0, &status, &b) != 0) {
		free(txt);
		free(b.p);
		return 3;
	}
	free(txt);
	if (json)
		printf("%s\n", b.p != NULL ? b.p : "");
	root = json_loadb(b.p != NULL ? b.p : "", b.len, 0, NULL);
	free(b.p);
	if (status < 200 || status > 299) {
		sealctl_print_error(status, root);
		json_decref(root);
		return 1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		fprintf(
		    stderr, "sealctl: HTTP %ld but no JSON object\n", status);
		return 1;
	}
	*reply = root;
	if (code != NULL)
		*code = status;
	return 0;
}

static void
table_line(const char *const cell[SEALCTL_TABLE_COLS],
    const size_t width[SEALCTL_TABLE_COLS])
{
	size_t i, n;

	for (i = 0; i < SEALCTL_TABLE_COLS; i++) {
		sealctl_put_safe(stdout, cell[i], 0);
		for (n = strlen(cell[i]);
		     i + 1 < SEALCTL_TABLE_COLS && n < width[i] + 2; n++)
			putchar(' ');
	}
	putchar('\n');
}

/* Two passes: the widths first, so the columns line up whatever the
 * length of the names. */
void
sealctl_table(json_t *rows, const char *const head[SEALCTL_TABLE_COLS],
    void (*fill)(json_t *row, struct sealctl_cells *c))
{
	size_t width[SEALCTL_TABLE_COLS], i, j;
	struct sealctl_cells c;
	json_t *row;

	for (j = 0; j < SEALCTL_TABLE_COLS; j++)
		width[j] = strlen(head[j]);
	json_array_foreach(rows, i, row)
	{
		fill(row, &c);
		for (j = 0; j < SEALCTL_TABLE_COLS; j++)
			if (strlen(c.cell[j]) > width[j])
				width[j] = strlen(c.cell[j]);
	}
	table_line(head, width);
	json_array_foreach(rows, i, row)
	{
		fill(row, &c);
		table_line(c.cell, width);
	}
}

const char *
sealctl_join(json_t *arr, char *buf, size_t len)
{
	size_t i, off = 0;
	json_t *v;
	int n;

	buf[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off > 0 ? "," : "",
		    json_string_value(v));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return off > 0 ? buf : "-";
}
