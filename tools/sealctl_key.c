/*
 * sealctl key: the security officers' commands on seald's admin socket
 * (daemon/admin/): list and show the managed keys, generate one in the
 * HSM, rotate, retire, disable and destroy versions (the CSR and the
 * certificate import are sealctl_keycert.c's); and, under two-person
 * control, list the pending proposals and approve another officer's.
 * Request bodies are built with jansson; the replies are printed as
 * tables for people (sealctl_print.c, control bytes masked), or as they
 * came with --json for scripts.
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
#include "sealctl_key.h"

static const char *const key_optname[KO_COUNT] = { "--algorithm", "--subject",
	"--usage", "--version", "--out", "--confirm" };

struct key_cmd {
	const char *name;
	int nargs;         /* positional arguments, exactly */
	unsigned int opts; /* KO_BIT()s, KO_JSON it accepts; KO_ID */
	unsigned int need; /* the options it cannot do without */
	int (*run)(const char *sock, const struct key_opts *o);
};

/* ---------------------------------------------------------- list, show */

static void
list_cells(json_t *row, struct sealctl_cells *c)
{
	c->cell[0] = sealctl_str_of(row, "name", "?");
	c->cell[1] = sealctl_int_of(row, "version", c->num, sizeof(c->num));
	c->cell[2] = sealctl_str_of(row, "algorithm", "?");
	c->cell[3] = sealctl_str_of(row, "state", "?");
	c->cell[4] = sealctl_str_of(row, "certificate_not_after", "-");
	c->cell[5] = sealctl_str_of(row, "created_by", "?");
}

static int
key_list(const char *sock, const struct key_opts *o)
{
	static const char *const head[SEALCTL_TABLE_COLS] = { "NAME", "VERSION",
		"ALGORITHM", "STATE", "CERT-EXPIRES", "CREATED-BY" };
	json_t *reply, *rows;
	int r;

	if ((r = sealctl_admin_call(sock, "GET", "/v1/admin/keys", NULL,
		 o->json, NULL, &reply)) != 0 ||
	    o->json) {
		json_decref(reply);
		return r;
	}
	if (json_is_array(rows = json_object_get(reply, "keys")))
		sealctl_table(rows, head, list_cells);
	else
		r = sealctl_bad_reply("\"keys\" array");
	json_decref(reply);
	return r;
}

static void
show_field(const char *label, const char *value)
{
	printf("  %-18s", label);
	sealctl_put_safe(stdout, value, 0);
	putchar('\n');
}

/* A PEM member, after a label line; "none" when it is null. */
static void
show_pem(
    const char *label, const char *name, const char *version, const char *pem)
{
	printf("%s of ", label);
	sealctl_put_safe(stdout, name, 0);
	printf(" v%s:%s", version, pem != NULL ? "\n" : " none\n");
	if (pem == NULL)
		return;
	sealctl_put_safe(stdout, pem, 1);
	if (*pem != '\0' && pem[strlen(pem) - 1] != '\n')
		putchar('\n');
}

static void
show_version(json_t *row)
{
	const char *name = sealctl_str_of(row, "name", "?");
	char vbuf[24];
	const char *v = sealctl_int_of(row, "version", vbuf, sizeof(vbuf));

	sealctl_put_safe(stdout, name, 0);
	printf(" v%s\n", v);
	show_field("algorithm:", sealctl_str_of(row, "algorithm", "?"));
	show_field("state:", sealctl_str_of(row, "state", "?"));
	show_field("HSM label:", sealctl_str_of(row, "label", "?"));
	show_field("HSM id:", sealctl_str_of(row, "id", "?"));
	show_field("created by:", sealctl_str_of(row, "created_by", "?"));
	show_field("created at:", sealctl_str_of(row, "created_at", "-"));
	show_field(
	    "cert expires:", sealctl_str_of(row, "certificate_not_after", "-"));
	show_pem(
	    "public key", name, v, sealctl_str_of(row, "public_key", NULL));
	show_pem("certificate chain", name, v,
	    sealctl_str_of(row, "certificate", NULL));
}

static int
key_show(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *reply, *rows, *row;
	size_t i;
	int r;

	snprintf(path, sizeof(path), "/v1/admin/keys/%s", o->arg[0]);
	if ((r = sealctl_admin_call(
		 sock, "GET", path, NULL, o->json, NULL, &reply)) != 0 ||
	    o->json) {
		json_decref(reply);
		return r;
	}
	if (!json_is_array(rows = json_object_get(reply, "versions")))
		r = sealctl_bad_reply("\"versions\" array");
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
	const char *id = sealctl_str_of(p, "id", NULL);
	char tbuf[32];

	if (!json_is_object(p) || id == NULL)
		return sealctl_bad_reply("\"proposal\"");
	printf("proposal ");
	sealctl_put_safe(stdout, id, 0);
	printf(": ");
	sealctl_put_safe(stdout, sealctl_str_of(p, "action", "?"), 0);
	putchar(' ');
	sealctl_put_name_version(p);
	printf(" waits for another officer's approval until %s (sealctl key "
	       "approve ",
	    sealctl_time_of(p, "expires_at", tbuf, sizeof(tbuf)));
	sealctl_put_safe(stdout, id, 0);
	putchar(')');
	sealctl_put_ledger(stdout, reply);
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
	r = sealctl_admin_call(
	    sock, "POST", path, req, o->json, &status, &reply);
	json_decref(req);
	if (r != 0 || o->json) {
		json_decref(reply);
		return r;
	}
	if (status == 202)
		r = print_proposal(reply);
	else if (!json_is_object(k = json_object_get(reply, "key")))
		r = sealctl_bad_reply("\"key\"");
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
	sealctl_put_name_version(k);
	printf(" (");
	sealctl_put_safe(stdout, sealctl_str_of(k, "algorithm", "?"), 0);
	printf("), HSM label ");
	sealctl_put_safe(stdout, sealctl_str_of(k, "label", "?"), 0);
	sealctl_put_ledger(stdout, reply);
}

static int
key_generate(const char *sock, const struct key_opts *o)
{
	return change(sock, "/v1/admin/keys",
	    json_pack("{s:s,s:s}", "name", o->arg[0], "algorithm",
		o->val[KO_ALGORITHM]),
	    o, generated);
}

/* ------------------------------------------------- rotate, retire ... */

static void
rotated(json_t *reply, json_t *k)
{
	char vbuf[24];

	printf("rotated ");
	sealctl_put_safe(stdout, sealctl_str_of(k, "name", "?"), 0);
	printf(": v%s (", sealctl_int_of(k, "version", vbuf, sizeof(vbuf)));
	sealctl_put_safe(stdout, sealctl_str_of(k, "algorithm", "?"), 0);
	printf(") pending its certificate, HSM label ");
	sealctl_put_safe(stdout, sealctl_str_of(k, "label", "?"), 0);
	sealctl_put_ledger(stdout, reply);
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
	sealctl_put_name_version(k);
	printf(" is now ");
	sealctl_put_safe(stdout, sealctl_str_of(k, "state", "?"), 0);
	sealctl_put_ledger(stdout, reply);
}

/* retire, disable, destroy (its --confirm is checked by check()). */
static int
key_move(const char *sock, const struct key_opts *o)
{
	char path[128];
	json_t *req = sealctl_key_with_version(json_object(), o);

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
pending_cells(json_t *row, struct sealctl_cells *c)
{
	c->cell[0] = sealctl_str_of(row, "id", "?");
	c->cell[1] = sealctl_str_of(row, "action", "?");
	c->cell[2] = sealctl_str_of(row, "name", "?");
	c->cell[3] = json_is_integer(json_object_get(row, "version"))
	    ? sealctl_int_of(row, "version", c->num, sizeof(c->num))
	    : "-";
	c->cell[4] = sealctl_str_of(row, "proposed_by", "?");
	c->cell[5] =
	    sealctl_time_of(row, "expires_at", c->time, sizeof(c->time));
}

static int
key_pending(const char *sock, const struct key_opts *o)
{
	static const char *const head[SEALCTL_TABLE_COLS] = { "ID", "ACTION",
		"NAME", "VERSION", "PROPOSED-BY", "EXPIRES" };
	json_t *reply, *rows;
	int r;

	if ((r = sealctl_admin_call(sock, "GET", "/v1/admin/proposals", NULL,
		 o->json, NULL, &reply)) != 0 ||
	    o->json) {
		json_decref(reply);
		return r;
	}
	if (json_is_array(rows = json_object_get(reply, "proposals")))
		sealctl_table(rows, head, pending_cells);
	else
		r = sealctl_bad_reply("\"proposals\" array");
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
	r = sealctl_admin_call(sock, "POST", path, req, o->json, NULL, &reply);
	json_decref(req);
	if (r != 0 || o->json) {
		json_decref(reply);
		return r;
	}
	if (!json_is_object(p = json_object_get(reply, "proposal")) ||
	    !json_is_object(k = json_object_get(reply, "key"))) {
		json_decref(reply);
		return sealctl_bad_reply("\"proposal\" and \"key\"");
	}
	printf("approved proposal ");
	sealctl_put_safe(stdout, sealctl_str_of(p, "id", "?"), 0);
	printf(": ");
	sealctl_put_safe(stdout, sealctl_str_of(p, "action", "?"), 0);
	putchar(' ');
	sealctl_put_name_version(k);
	printf(", now ");
	sealctl_put_safe(stdout, sealctl_str_of(k, "state", "?"), 0);
	sealctl_put_ledger(stdout, reply);
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
	    KO_BIT(KO_SUBJECT), sealctl_key_csr },
	{ "import-cert", 2, KO_JSON | KO_BIT(KO_VERSION), 0,
	    sealctl_key_import_cert },
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
	return sealctl_usage_error("key", "%s%.80s", why, what);
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
		return sealctl_usage_error("key", "%s takes %d argument%s (%s)",
		    c->name, c->nargs, c->nargs == 1 ? "" : "s",
		    c->nargs == 0           ? "none"
			: (c->opts & KO_ID) ? "a proposal ID"
			: c->nargs == 2     ? "NAME FILE"
					    : "NAME");
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
sealctl_cmd_key(int argc, char **argv)
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
		return usage_error("give a command: list, show, generate, csr, "
				   "import-cert, rotate, retire, disable, "
				   "destroy, pending or approve",
		    "");
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
