/*
 * sealctl key: the security officers' commands on seald's admin socket
 * (daemon/admin.c, daemon/keyops.c): list and show the managed keys,
 * generate one in the HSM, get a CSR for it and import the certificate a
 * CA issued, rotate, retire, disable and destroy versions (daemon/
 * keylife.c); and, under two-person control, list the pending proposals
 * and approve another officer's.  Request bodies are built with jansson;
 * the replies are printed as tables for people, or as they came with
 * --json for scripts.
 * Everything seald sends back is printed with control bytes masked, so a
 * reply cannot drive the officer's terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "name.h"
#include "sd_limits.h"
#include "sealctl.h"

/* The value options; --json is the flag KO_JSON. */
enum key_opt {
	KO_ALGORITHM,
	KO_SUBJECT,
	KO_USAGE,
	KO_VERSION,
	KO_OUT,
	KO_CONFIRM,
	KO_COUNT
};
#define KO_BIT(o) (1u << (o))
#define KO_JSON KO_BIT(KO_COUNT)
/* Not an option: the command's argument is a proposal ID, not a NAME. */
#define KO_ID KO_BIT(KO_COUNT + 1)

static const char *const key_optname[KO_COUNT] = { "--algorithm", "--subject",
	"--usage", "--version", "--out", "--confirm" };

/* A proposal ID has at most as many digits as the largest bigint. */
#define KEY_ID_DIGITS 19
#define KEY_ID_WRONG \
	"a proposal ID is 1 to " SD_XSTR(KEY_ID_DIGITS) " digits, not "

struct key_opts {
	const char *cmd;    /* the subcommand: retire, disable, destroy... */
	const char *arg[2]; /* NAME (or ID), and FILE for import-cert */
	int nargs;
	const char *val[KO_COUNT];
	int json;
	json_int_t version; /* from val[KO_VERSION]; 0 when absent */
};

struct key_cmd {
	const char *name;
	int nargs;         /* positional arguments, exactly */
	unsigned int opts; /* KO_BIT()s, KO_JSON it accepts; KO_ID */
	unsigned int need; /* the options it cannot do without */
	int (*run)(const char *sock, const struct key_opts *o);
};

/* ------------------------------------------------------------ printing */

/* s with every byte outside printable ASCII (newline kept when nl) shown
 * as '?': names are ASCII, PEM is base64, anything else is suspect. */
static void
put_safe(FILE *f, const char *s, int nl)
{
	const unsigned char *p = (const unsigned char *)s;
	int shown;

	for (; *p != '\0'; p++) {
		shown = (*p >= 0x20 && *p < 0x7f) || (nl && *p == '\n');
		fputc(shown ? *p : '?', f);
	}
}

/* A string member of a reply object, else dflt. */
static const char *
str_of(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* An integer member as text into buf, else "?". */
static const char *
int_of(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return "?";
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* "INSTANCE #SEQ" of the reply's ledger reference into buf. */
static const char *
ledger_of(json_t *reply, char *buf, size_t len)
{
	json_t *l = json_object_get(reply, "ledger");
	char seq[24];

	snprintf(buf, len, "%s #%s", str_of(l, "instance", "?"),
	    int_of(l, "seq", seq, sizeof(seq)));
	return buf;
}

/* "; ledger INSTANCE #SEQ" and the end of the line, on f. */
static void
put_ledger(FILE *f, json_t *reply)
{
	char lbuf[SD_NAME_MAX + 32];

	fputs("; ledger ", f);
	put_safe(f, ledger_of(reply, lbuf, sizeof(lbuf)), 0);
	fputc('\n', f);
}

/* A member in unix seconds as RFC 3339 UTC into buf, else "?". */
static const char *
time_of(json_t *o, const char *key, char *buf, size_t len)
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
static void
put_name_version(json_t *o)
{
	char vbuf[24];

	put_safe(stdout, str_of(o, "name", "?"), 0);
	if (json_is_integer(json_object_get(o, "version")))
		printf(" v%s", int_of(o, "version", vbuf, sizeof(vbuf)));
}

static int
bad_reply(const char *what)
{
	fprintf(stderr, "sealctl: seald's reply has no %s\n", what);
	return 1;
}

/* An error reply: "sealctl: HTTP 404 not_found: no key named x". */
static void
print_error(long status, json_t *root)
{
	json_t *e = json_object_get(root, "error");

	fprintf(stderr, "sealctl: HTTP %ld %.40s: ", status,
	    str_of(e, "code", "error"));
	put_safe(stderr, str_of(e, "message", "no error message"), 0);
	fputc('\n', stderr);
}

/* ----------------------------------------------------------- transport */

/*
 * method on path of the admin socket with body (may be NULL; not
 * consumed).  With json the reply body is printed as it came, error or
 * not.  Returns the exit status: 0 with the reply object in *reply
 * (json_decref it) and the HTTP status, any 2xx, in *code (when not
 * NULL: 202 is a proposal), 1 when seald refused (its code and message
 * on stderr) or answered something else than a JSON object, 2 when the
 * body cannot be built, 3 when seald could not be reached.
 */
static int
admin_call(const char *sock, const char *method, const char *path, json_t *body,
    int json, long *code, json_t **reply)
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
		print_error(status, root);
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

/* -------------------------------------------------------------- tables */

/* The tables of `key list` and `key pending` both have six columns. */
#define TABLE_COLS 6

/* The cells of one row, and room for those that are made of numbers. */
struct cells {
	const char *cell[TABLE_COLS];
	char num[24], time[32];
};

static void
table_line(const char *const cell[TABLE_COLS], const size_t width[TABLE_COLS])
{
	size_t i, n;

	for (i = 0; i < TABLE_COLS; i++) {
		put_safe(stdout, cell[i], 0);
		for (n = strlen(cell[i]);
		     i + 1 < TABLE_COLS && n < width[i] + 2; n++)
			putchar(' ');
	}
	putchar('\n');
}

/* Two passes: the widths first, so the columns line up whatever the
 * length of the names. */
static void
table(json_t *rows, const char *const head[TABLE_COLS],
    void (*fill)(json_t *row, struct cells *c))
{
	size_t width[TABLE_COLS], i, j;
	struct cells c;
	json_t *row;

	for (j = 0; j < TABLE_COLS; j++)
		width[j] = strlen(head[j]);
	json_array_foreach(rows, i, row)
	{
		fill(row, &c);
		for (j = 0; j < TABLE_COLS; j++)
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

/* ---------------------------------------------------------- list, show */

static void
list_cells(json_t *row, struct cells *c)
{
	c->cell[0] = str_of(row, "name", "?");
	c->cell[1] = int_of(row, "version", c->num, sizeof(c->num));
	c->cell[2] = str_of(row, "algorithm", "?");
	c->cell[3] = str_of(row, "state", "?");
	c->cell[4] = str_of(row, "certificate_not_after", "-");
	c->cell[5] = str_of(row, "created_by", "?");
}

static int
key_list(const char *sock, const struct key_opts *o)
{
	static const char *const head[TABLE_COLS] = { "NAME", "VERSION",
		"ALGORITHM", "STATE", "CERT-EXPIRES", "CREATED-BY" };
	json_t *reply, *rows;
	int r;

	if ((r = admin_call(sock, "GET", "/v1/admin/keys", NULL, o->json, NULL,
		 &reply)) != 0 ||
	    o->json) {
		json_decref(reply);
		return r;
	}
	if (json_is_array(rows = json_object_get(reply, "keys")))
		table(rows, head, list_cells);
	else
		r = bad_reply("\"keys\" array");
	json_decref(reply);
	return r;
}

static void
show_field(const char *label, const char *value)
{
	printf("  %-18s", label);
	put_safe(stdout, value, 0);
	putchar('\n');
}

/* A PEM member, after a label line; "none" when it is null. */
static void
show_pem(
    const char *label, const char *name, const char *version, const char *pem)
{
	printf("%s of ", label);
	put_safe(stdout, name, 0);
	printf(" v%s:%s", version, pem != NULL ? "\n" : " none\n");
	if (pem == NULL)
		return;
	put_safe(stdout, pem, 1);
	if (*pem != '\0' && pem[strlen(pem) - 1] != '\n')
		putchar('\n');
}

static void
show_version(json_t *row)
{
	const char *name = str_of(row, "name", "?");
	char vbuf[24];
	const char *v = int_of(row, "version", vbuf, sizeof(vbuf));

	put_safe(stdout, name, 0);
	printf(" v%s\n", v);
	show_field("algorithm:", str_of(row, "algorithm", "?"));
	show_field("state:", str_of(row, "state", "?"));
	show_field("HSM label:", str_of(row, "label", "?"));
	show_field("HSM id:", str_of(row, "id", "?"));
	show_field("created by:", str_of(row, "created_by", "?"));
	show_field("created at:", str_of(row, "created_at", "-"));
	show_field("cert expires:", str_of(row, "certificate_not_after", "-"));
	show_pem("public key", name, v, str_of(row, "public_key", NULL));
	show_pem(
	    "certificate chain", name, v, str_of(row, "certificate", NULL));
}

static int
key_show(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *reply, *rows, *row;
	size_t i;
	int r;

	snprintf(path, sizeof(path), "/v1/admin/keys/%s", o->arg[0]);
	if ((r = admin_call(sock, "GET", path, NULL, o->json, NULL, &reply)) !=
		0 ||
	    o->json) {
		json_decref(reply);
		return r;
	}
	if (!json_is_array(rows = json_object_get(reply, "versions")))
		r = bad_reply("\"versions\" array");
	else
		json_array_foreach(rows, i, row)
		{
			if (i > 0)
				putchar('\n');
			show_version(row);
		}
	json_decref(reply);
	return r;
}

/* --------------------------------------------- changes and proposals */

/* A 202 reply: the change waits for a second officer. */
static int
print_proposal(json_t *reply)
{
	json_t *p = json_object_get(reply, "proposal");
	const char *id = str_of(p, "id", NULL);
	char tbuf[32];

	if (!json_is_object(p) || id == NULL)
		return bad_reply("\"proposal\"");
	printf("proposal ");
	put_safe(stdout, id, 0);
	printf(": ");
	put_safe(stdout, str_of(p, "action", "?"), 0);
	putchar(' ');
	put_name_version(p);
	printf(" waits for another officer's approval until %s (sealctl key "
	       "approve ",
	    time_of(p, "expires_at", tbuf, sizeof(tbuf)));
	put_safe(stdout, id, 0);
	putchar(')');
	put_ledger(stdout, reply);
	return 0;
}

/*
 * POST req (taken; NULL when it could not be built) to path: a change
 * that the policy may make a proposal.  A 202 is printed as one, a 200
 * by done() with the reply's "key".  Returns the exit status.
 */
static int
change(const char *sock, const char *path, json_t *req,
    const struct key_opts *o, void (*done)(json_t *reply, json_t *key))
{
	json_t *reply, *k;
	long status;
	int r;

	if (req == NULL) {
		fprintf(stderr, "sealctl: cannot build the request\n");
		return 2;
	}
	r = admin_call(sock, "POST", path, req, o->json, &status, &reply);
	json_decref(req);
	if (r != 0 || o->json) {
		json_decref(reply);
		return r;
	}
	if (status == 202)
		r = print_proposal(reply);
	else if (!json_is_object(k = json_object_get(reply, "key")))
		r = bad_reply("\"key\"");
	else
		done(reply, k);
	json_decref(reply);
	return r;
}

/* ------------------------------------------------------------ generate */

static void
generated(json_t *reply, json_t *k)
{
	printf("generated ");
	put_name_version(k);
	printf(" (");
	put_safe(stdout, str_of(k, "algorithm", "?"), 0);
	printf("), HSM label ");
	put_safe(stdout, str_of(k, "label", "?"), 0);
	put_ledger(stdout, reply);
}

static int
key_generate(const char *sock, const struct key_opts *o)
{
	return change(sock, "/v1/admin/keys",
	    json_pack("{s:s,s:s}", "name", o->arg[0], "algorithm",
		o->val[KO_ALGORITHM]),
	    o, generated);
}

/* ----------------------------------------------------------------- CSR */

/* 1 when pem is one CSR whose signature verifies with its own key: what
 * a CA checks first, so a bad one is caught before it is sent there. */
static int
csr_ok(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_REQ *req =
	    b != NULL ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = req != NULL ? X509_REQ_get0_pubkey(req) : NULL;
	int ok = pk != NULL && X509_REQ_verify(req, pk) == 1;

	X509_REQ_free(req);
	BIO_free(b);
	return ok;
}

/* The body of a CSR or certificate request: version only when given, so
 * that seald picks the active one otherwise. */
static json_t *
with_version(json_t *req, const struct key_opts *o)
{
	if (req != NULL && o->version > 0 &&
	    json_object_set_new(req, "version", json_integer(o->version)) !=
		0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

static int
key_csr(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req, *reply;
	const char *pem;
	int r;

	req = json_pack("{s:s}", "subject", o->val[KO_SUBJECT]);
	if (req != NULL && o->val[KO_USAGE] != NULL &&
	    json_object_set_new(req, "usage", json_string(o->val[KO_USAGE])) !=
		0) {
		json_decref(req);
		req = NULL;
	}
	if ((req = with_version(req, o)) == NULL) {
		fprintf(stderr, "sealctl: cannot build the request\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/v1/admin/keys/%s/csr", o->arg[0]);
	r = admin_call(sock, "POST", path, req, 0, NULL, &reply);
	json_decref(req);
	if (r != 0)
		return r;
	if ((pem = str_of(reply, "csr", NULL)) == NULL || !csr_ok(pem)) {
		json_decref(reply);
		return bad_reply("CSR that verifies");
	}
	if (o->val[KO_OUT] == NULL)
		put_safe(stdout, pem, 1);
	else if (sealctl_write_file(o->val[KO_OUT], pem, strlen(pem)) != 0)
		r = 1; /* recorded, though: ask again for a new one */
	if (r == 0) {
		/* stdout may be the CSR itself: the receipt goes apart */
		fprintf(stderr, "CSR for %s%s%s", o->arg[0],
		    o->val[KO_OUT] != NULL ? " written to " : "",
		    o->val[KO_OUT] != NULL ? o->val[KO_OUT] : "");
		put_ledger(stderr, reply);
	}
	json_decref(reply);
	return r;
}

/* --------------------------------------------------- certificate import */

/*
 * A certificate file: at most SD_CERT_MAX_BYTES (what seald accepts),
 * text with at least one PEM certificate.  Returns it NUL-terminated
 * (free it), its length in *len; NULL with a message on stderr.
 */
static char *
read_cert_file(const char *path, size_t *len)
{
	char *p = malloc(SD_CERT_MAX_BYTES + 1);
	FILE *f = p != NULL ? fopen(path, "rb") : NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	size_t n = 0;
	int ok;

	if (f == NULL) {
		fprintf(stderr, "sealctl: %s: %s\n", path,
		    p != NULL ? strerror(errno) : "out of memory");
		free(p);
		return NULL;
	}
	/* one byte more than allowed tells a file that is too large */
	n = fread(p, 1, SD_CERT_MAX_BYTES + 1, f);
	ok = !ferror(f);
	fclose(f);
	if (!ok)
		fprintf(stderr, "sealctl: %s: read error\n", path);
	else if (n > SD_CERT_MAX_BYTES)
		fprintf(stderr, "sealctl: %s: larger than %d KiB\n", path,
		    SD_CERT_MAX_BYTES / 1024);
	else if (memchr(p, '\0', n) != NULL)
		fprintf(stderr, "sealctl: %s: not a text file\n", path);
	if (!ok || n > SD_CERT_MAX_BYTES || memchr(p, '\0', n) != NULL) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	if ((b = BIO_new_mem_buf(p, (int)n)) != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	ok = x != NULL;
	X509_free(x);
	BIO_free(b);
	if (!ok) {
		fprintf(stderr, "sealctl: %s: no PEM certificate\n", path);
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}

static int
key_import_cert(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req, *reply, *pem, *k;
	size_t len = 0;
	char *file;
	int r;

	if ((file = read_cert_file(o->arg[1], &len)) == NULL)
		return 2;
	pem = json_stringn(file, len); /* NULL unless UTF-8 */
	free(file);
	if (pem == NULL) {
		fprintf(stderr, "sealctl: %s: not UTF-8 text\n", o->arg[1]);
		return 2;
	}
	if ((req = with_version(json_pack("{s:o}", "certificate", pem), o)) ==
	    NULL) {
		fprintf(stderr, "sealctl: cannot build the request\n");
		return 2;
	}
	snprintf(
	    path, sizeof(path), "/v1/admin/keys/%s/certificate", o->arg[0]);
	r = admin_call(sock, "POST", path, req, o->json, NULL, &reply);
	json_decref(req);
	if (r != 0 || o->json) {
		json_decref(reply);
		return r;
	}
	if (!json_is_object(k = json_object_get(reply, "key"))) {
		json_decref(reply);
		return bad_reply("\"key\"");
	}
	printf("imported the certificate of ");
	put_name_version(k);
	printf(", expires ");
	put_safe(stdout, str_of(k, "certificate_not_after", "?"), 0);
	put_ledger(stdout, reply);
	json_decref(reply);
	return 0;
}

/* ------------------------------------------------- rotate, retire ... */

static void
rotated(json_t *reply, json_t *k)
{
	char vbuf[24];

	printf("rotated ");
	put_safe(stdout, str_of(k, "name", "?"), 0);
	printf(": v%s (", int_of(k, "version", vbuf, sizeof(vbuf)));
	put_safe(stdout, str_of(k, "algorithm", "?"), 0);
	printf(") pending its certificate, HSM label ");
	put_safe(stdout, str_of(k, "label", "?"), 0);
	put_ledger(stdout, reply);
}

static int
key_rotate(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req = json_object();

	if (req != NULL && o->val[KO_ALGORITHM] != NULL &&
	    json_object_set_new(
		req, "algorithm", json_string(o->val[KO_ALGORITHM])) != 0) {
		json_decref(req);
		req = NULL;
	}
	snprintf(path, sizeof(path), "/v1/admin/keys/%s/rotate", o->arg[0]);
	return change(sock, path, req, o, rotated);
}

static void
moved(json_t *reply, json_t *k)
{
	put_name_version(k);
	printf(" is now ");
	put_safe(stdout, str_of(k, "state", "?"), 0);
	put_ledger(stdout, reply);
}

/* retire, disable, destroy (its --confirm is checked by check()). */
static int
key_move(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req = with_version(json_object(), o);

	if (req != NULL && o->val[KO_CONFIRM] != NULL &&
	    json_object_set_new(
		req, "confirm", json_string(o->val[KO_CONFIRM])) != 0) {
		json_decref(req);
		req = NULL;
	}
	snprintf(path, sizeof(path), "/v1/admin/keys/%s/%s", o->arg[0], o->cmd);
	return change(sock, path, req, o, moved);
}

/* ----------------------------------------------------------- proposals */

static void
pending_cells(json_t *row, struct cells *c)
{
	c->cell[0] = str_of(row, "id", "?");
	c->cell[1] = str_of(row, "action", "?");
	c->cell[2] = str_of(row, "name", "?");
	c->cell[3] = json_is_integer(json_object_get(row, "version"))
	    ? int_of(row, "version", c->num, sizeof(c->num))
	    : "-";
	c->cell[4] = str_of(row, "proposed_by", "?");
	c->cell[5] = time_of(row, "expires_at", c->time, sizeof(c->time));
}

static int
key_pending(const char *sock, const struct key_opts *o)
{
	static const char *const head[TABLE_COLS] = { "ID", "ACTION", "NAME",
		"VERSION", "PROPOSED-BY", "EXPIRES" };
	json_t *reply, *rows;
	int r;

	if ((r = admin_call(sock, "GET", "/v1/admin/proposals", NULL, o->json,
		 NULL, &reply)) != 0 ||
	    o->json) {
		json_decref(reply);
		return r;
	}
	if (json_is_array(rows = json_object_get(reply, "proposals")))
		table(rows, head, pending_cells);
	else
		r = bad_reply("\"proposals\" array");
	json_decref(reply);
	return r;
}

static int
key_approve(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req, *reply, *p, *k;
	int r;

	if ((req = json_object()) == NULL) {
		fprintf(stderr, "sealctl: cannot build the request\n");
		return 2;
	}
	snprintf(
	    path, sizeof(path), "/v1/admin/proposals/%s/approve", o->arg[0]);
	r = admin_call(sock, "POST", path, req, o->json, NULL, &reply);
	json_decref(req);
	if (r != 0 || o->json) {
		json_decref(reply);
		return r;
	}
	if (!json_is_object(p = json_object_get(reply, "proposal")) ||
	    !json_is_object(k = json_object_get(reply, "key"))) {
		json_decref(reply);
		return bad_reply("\"proposal\" and \"key\"");
	}
	printf("approved proposal ");
	put_safe(stdout, str_of(p, "id", "?"), 0);
	printf(": ");
	put_safe(stdout, str_of(p, "action", "?"), 0);
	putchar(' ');
	put_name_version(k);
	printf(", now ");
	put_safe(stdout, str_of(k, "state", "?"), 0);
	put_ledger(stdout, reply);
	json_decref(reply);
	return 0;
}

/* ------------------------------------------------------------ dispatch */

static const struct key_cmd key_cmds[] = {
	{ "list", 0, KO_JSON, 0, key_list },
	{ "show", 1, KO_JSON, 0, key_show },
	{ "generate", 1, KO_JSON | KO_BIT(KO_ALGORITHM), KO_BIT(KO_ALGORITHM),
	    key_generate },
	{ "csr", 1,
	    KO_BIT(KO_SUBJECT) | KO_BIT(KO_USAGE) | KO_BIT(KO_VERSION) |
		KO_BIT(KO_OUT),
	    KO_BIT(KO_SUBJECT), key_csr },
	{ "import-cert", 2, KO_JSON | KO_BIT(KO_VERSION), 0, key_import_cert },
	{ "rotate", 1, KO_JSON | KO_BIT(KO_ALGORITHM), 0, key_rotate },
	{ "retire", 1, KO_JSON | KO_BIT(KO_VERSION), 0, key_move },
	{ "disable", 1, KO_JSON | KO_BIT(KO_VERSION), 0, key_move },
	{ "destroy", 1, KO_JSON | KO_BIT(KO_VERSION) | KO_BIT(KO_CONFIRM),
	    KO_BIT(KO_VERSION) | KO_BIT(KO_CONFIRM), key_move },
	{ "pending", 0, KO_JSON, 0, key_pending },
	{ "approve", 1, KO_JSON | KO_ID, 0, key_approve },
};

static int
usage_error(const char *why, const char *what)
{
	if (why != NULL)
		fprintf(stderr, "sealctl: %s%s\n", why, what);
	sealctl_usage();
	return 2;
}

/* The options and arguments after `key SUBCOMMAND`, each at most once. */
static int
parse(const struct key_cmd *c, int argc, char **argv, struct key_opts *o)
{
	int i, j;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0) {
			if (o->nargs == c->nargs)
				return usage_error(
				    "unexpected argument: ", argv[i]);
			o->arg[o->nargs++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--json") == 0 && (c->opts & KO_JSON)) {
			o->json = 1;
			continue;
		}
		for (j = 0;
		     j < KO_COUNT && strcmp(argv[i], key_optname[j]) != 0; j++)
			;
		if (j == KO_COUNT || !(c->opts & KO_BIT(j)))
			return usage_error("unknown option: ", argv[i]);
		if (o->val[j] != NULL || i + 1 >= argc)
			return usage_error(
			    "give once, with a value: ", argv[i]);
		o->val[j] = argv[++i];
	}
	if (o->nargs != c->nargs)
		return usage_error(NULL, NULL);
	for (j = 0; j < KO_COUNT; j++)
		if ((c->need & KO_BIT(j)) && o->val[j] == NULL)
			return usage_error("missing ", key_optname[j]);
	return 0;
}

/* 1 when s is a proposal ID: digits only, as many as a bigint has. */
static int
is_id(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n <= KEY_ID_DIGITS && s[n] == '\0';
}

/*
 * What seald would refuse anyway, refused before a request: the key name
 * (or proposal ID) goes into the URL path, so only a name (and not a dot
 * segment), or digits.  destroy's --confirm must repeat "NAME vN"
 * exactly: a typo is caught here, without a proposal in the ledger.
 */
static int
check(const struct key_cmd *c, struct key_opts *o)
{
	const char *v = o->val[KO_VERSION], *u = o->val[KO_USAGE];
	const char *confirm = o->val[KO_CONFIRM];
	char *end = NULL, want[SD_NAME_MAX + 32];

	if (o->nargs > 0 && (c->opts & KO_ID)) {
		if (!is_id(o->arg[0]))
			return usage_error(KEY_ID_WRONG, o->arg[0]);
	} else if (o->nargs > 0 &&
	    (!sd_name_valid(o->arg[0], strlen(o->arg[0])) ||
		strcmp(o->arg[0], ".") == 0 || strcmp(o->arg[0], "..") == 0))
		return usage_error("not a key name: ", o->arg[0]);
	if (u != NULL && strcmp(u, "seal") != 0 && strcmp(u, "timestamp") != 0)
		return usage_error("--usage is seal or timestamp, not ", u);
	if (v != NULL) {
		errno = 0;
		o->version = strtoll(v, &end, 10);
		if (*v < '1' || *v > '9' || errno != 0 || *end != '\0')
			return usage_error("--version is a positive number, "
					   "not ",
			    v);
	}
	if (confirm != NULL) {
		/* v is the canonical text of the version, checked above */
		snprintf(want, sizeof(want), "%s v%s", o->arg[0],
		    v != NULL ? v : "?");
		if (strcmp(confirm, want) != 0) {
			fprintf(stderr,
			    "sealctl: refused: --confirm must be exactly "
			    "\"%s\" to destroy that version\n",
			    want);
			return 2;
		}
	}
	return 0;
}

int
cmd_key(int argc, char **argv)
{
	const char *sock = getenv("SEALD_ADMIN_SOCKET");
	const struct key_cmd *c = NULL;
	struct key_opts o;
	size_t i;
	int r;

	if (sock == NULL || *sock == '\0')
		sock = SEALCTL_ADMIN_SOCKET;
	if (argc >= 2 && strcmp(argv[0], "-a") == 0) {
		sock = argv[1];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[0], "key") != 0)
		return usage_error(NULL, NULL);
	for (i = 0; i < sizeof(key_cmds) / sizeof(key_cmds[0]); i++)
		if (strcmp(argv[1], key_cmds[i].name) == 0)
			c = &key_cmds[i];
	if (c == NULL)
		return usage_error("no such key command: ", argv[1]);
	if ((r = parse(c, argc - 2, argv + 2, &o)) != 0 ||
	    (r = check(c, &o)) != 0)
		return r;
	o.cmd = c->name;
	return c->run(sock, &o);
}
