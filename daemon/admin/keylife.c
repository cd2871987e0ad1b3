/*
 * keylife: the life of a key after it is made: rotation (a new version,
 * pending until its certificate makes it active and retires the old one),
 * retire, disable, destroy; and the approval that runs a proposal
 * (proposals.c) once another officer gives it (keyops.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "err.h"
#include "keyops_int.h"
#include "keys.h"
#include "log.h"

/* The change an action makes, run on its own or for an approval (then
 * with also: the proposal's end, in the same transaction). */
struct action {
	const char *name;
	int64_t version;       /* retire, disable, destroy */
	const char *algorithm; /* generate, rotate ("" or NULL: the same) */
	const char *why;       /* for the entry's detail */
	const char *by;        /* who asked for it (the proposer) */
	int (*also)(void *, void *);
	void *also_arg;
};

/* ------------------------------------------------------------- actions */

/* The next version of a name (into k: name, version, algorithm): the
 * active version's algorithm unless asked; none while one is pending. */
static int
rotate_target(struct keyops *ko, const char *name, const char *alg,
    struct key_row *k, char *errbuf, size_t errlen)
{
	struct key_row *rows = NULL;
	const char *same = NULL;
	size_t i, n = 0;
	int r;

	if ((r = ledger_keys_list(ko->rd, name, &rows, &n)) != 0)
		return ko_fail(r, errbuf, errlen, "cannot read the keys table");
	memset(k, 0, sizeof(*k));
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].state, "pending") == 0)
			r = ko_fail(SD_ERR_CONFLICT, errbuf, errlen,
			    "key %s v%lld is pending already: import its "
			    "certificate, or retire it",
			    name, (long long)rows[i].version);
		if (strcmp(rows[i].state, "active") == 0 || same == NULL)
			same = rows[i].algorithm;
	}
	if (n == 0)
		r = ko_fail(SD_ERR_NOT_FOUND, errbuf, errlen,
		    "no key named %s (generate it)", name);
	if (r == 0) {
		snprintf(k->name, sizeof(k->name), "%s", name);
		k->version = rows[n - 1].version + 1;
		snprintf(k->algorithm, sizeof(k->algorithm), "%s",
		    alg != NULL && alg[0] != '\0' ? alg : same);
	}
	ledger_keys_free(rows, n);
	if (r != 0)
		return r;
	return ko_algorithm_fits(ko, k->name, k->algorithm, errbuf, errlen);
}

/* A new version of a name, pending until its certificate. */
static int
do_rotate(struct keyops *ko, const struct keyops_caller *who,
    const struct action *a, struct key_row *k, struct ledger_entry *e,
    char *errbuf, size_t errlen)
{
	char why[SD_DETAIL_MAX];
	int r;

	if ((r = rotate_target(ko, a->name, a->algorithm, k, errbuf, errlen)) !=
	    0)
		return r;
	snprintf(k->state, sizeof(k->state), "pending");
	snprintf(k->created_by, sizeof(k->created_by), "%s", a->by);
	snprintf(why, sizeof(why), "rotation of %s, pending its certificate%s",
	    a->name, a->why);
	return ko_make_key(
	    ko, who, k, why, a->also, a->also_arg, e, errbuf, errlen);
}

/* The states each action moves a version from, and to. */
static const struct {
	const char *action, *to;
	const char *from[3];
} moves[] = {
	{ "retire", "retired", { "active", "pending", NULL } },
	{ "disable", "disabled", { "active", "pending", "retired" } },
	{ "destroy", "destroyed", { "disabled", NULL, NULL } },
};

static int
move_of(const char *action, const char *state)
{
	size_t i, j;

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		for (j = 0; strcmp(moves[i].action, action) == 0 && j < 3 &&
		     moves[i].from[j] != NULL;
		     j++)
			if (strcmp(moves[i].from[j], state) == 0)
				return (int)i;
	return -1;
}

/* The version an action is about, in a state it may leave. */
static int
movable(struct keyops *ko, const char *action, const char *name,
    int64_t version, struct key_row *k, char *errbuf, size_t errlen)
{
	json_t *o = version > 0 ? json_pack("{s:I}", "version", version) : NULL;
	int r = ko_pick_version(ko, name, o, k, errbuf, errlen);

	json_decref(o);
	if (r != 0)
		return r;
	free(k->cert);
	k->cert = NULL;
	if (strcmp(k->state, "destroyed") == 0)
		return ko_fail(SD_ERR_CONFLICT, errbuf, errlen,
		    "key %s v%lld is destroyed", k->name,
		    (long long)k->version);
	if (move_of(action, k->state) < 0)
		return ko_fail(SD_ERR_CONFLICT, errbuf, errlen,
		    "key %s v%lld is %s: it cannot be %s", k->name,
		    (long long)k->version, k->state,
		    strcmp(action, "destroy") == 0
			? "destroyed (disable it first)"
			: moves[strcmp(action, "retire") == 0 ? 0 : 1].to);
	return 0;
}

/* retire, disable, destroy: the state change, recorded; destroy then
 * removes the pair from the token. */
static int
do_move(struct keyops *ko, const struct keyops_caller *who, const char *action,
    const struct action *a, struct key_row *k, struct ledger_entry *e,
    char *errbuf, size_t errlen)
{
	struct key_change c;
	struct key_apply_pair both;
	struct hsm_key *hk;
	char detail[SD_DETAIL_MAX];
	uint8_t hash[32];
	int r, m;

	if ((r = movable(ko, action, a->name, a->version, k, errbuf, errlen)) !=
	    0)
		return r;
	/* the pair to destroy is the one seald made and recorded, found by
	 * label and id: never another object that took its label */
	if (strcmp(action, "destroy") == 0 &&
	    (r = keys_managed_ok(ko->hsm, k, &hk, errbuf, errlen)) != 0)
		return r == SD_ERR_HSM ? r : SD_ERR_CONFLICT;
	m = move_of(action, k->state);
	c = (struct key_change){ k->name, k->version, k->state, moves[m].to };
	snprintf(detail, sizeof(detail), "%s -> %s%s", k->state, moves[m].to,
	    a->why);
	EVP_Digest(k->pub, k->pub_len, hash, NULL, EVP_sha256(), NULL);
	ko_event(ko, who, k, action, hash, detail, e);
	e->apply = ledger_keys_set_state;
	e->apply_arg = &c;
	if (a->also != NULL) {
		both = (struct key_apply_pair){ ledger_keys_set_state, &c,
			a->also, a->also_arg };
		e->apply = ledger_keys_apply_both;
		e->apply_arg = &both;
	}
	if ((r = ledger_record(ko->ledger, e, -1)) != 0)
		return ko_fail(
		    r == SD_ERR_NOT_FOUND ? SD_ERR_CONFLICT : SD_ERR_LEDGER,
		    errbuf, errlen, "%s",
		    r == SD_ERR_NOT_FOUND ? "the key changed meanwhile"
					  : "the ledger did not record it");
	log_info("key %s v%lld: %s -> %s by %s", k->name, (long long)k->version,
	    c.from, c.to, who->name);
	snprintf(k->state, sizeof(k->state), "%s", moves[m].to);
	ko_rekey(ko);
	if (strcmp(action, "destroy") == 0 &&
	    hsm_key_destroy(ko->hsm, k->label) != 0)
		return ko_fail(SD_ERR_HSM, errbuf, errlen,
		    "recorded as destroyed, but the HSM did not destroy the "
		    "objects labelled %s: remove them by hand",
		    k->label);
	return 0;
}

static int
run_action(struct keyops *ko, const struct keyops_caller *who,
    const char *action, const struct action *a, struct key_row *k,
    struct ledger_entry *e, char *errbuf, size_t errlen)
{
	if (strcmp(action, "generate") == 0) {
		ko_row_of(k, a->name, 1, a->algorithm);
		snprintf(k->state, sizeof(k->state), "active");
		snprintf(k->created_by, sizeof(k->created_by), "%s", a->by);
		return ko_make_key(ko, who, k,
		    a->why[0] == ';' ? a->why + 2 : a->why, a->also,
		    a->also_arg, e, errbuf, errlen);
	}
	if (strcmp(action, "rotate") == 0)
		return do_rotate(ko, who, a, k, e, errbuf, errlen);
	return do_move(ko, who, action, a, k, e, errbuf, errlen);
}

static int
answer(const struct key_row *k, const struct ledger_entry *e, char **reply)
{
	*reply = ko_dump(json_pack(
	    "{s:o,s:o}", "key", ko_row_json(k), "ledger", ko_ledger_ref(e)));
	return *reply != NULL ? 0 : SD_ERR_NOMEM;
}

int
keyops_rotate(struct keyops *ko, const struct keyops_caller *who,
    const char *name, const char *body, size_t len, char **reply, char *errbuf,
    size_t errlen)
{
	static const char *const known[] = { "algorithm", NULL };
	struct action a = { name, 0, NULL, "", who->name, NULL, NULL };
	struct ledger_entry e;
	struct key_row k;
	int bad = 0, r;
	json_t *o;

	if ((o = ko_parse_body(body, len, known, errbuf, errlen)) == NULL)
		return SD_ERR_BAD_REQUEST;
	a.algorithm = ko_member_str(o, "algorithm", 16, &bad);
	if (bad || (a.algorithm != NULL && hsm_keyalg_from(a.algorithm) < 0)) {
		json_decref(o);
		return ko_fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "\"algorithm\": ec-p256, ec-p384, rsa-2048, rsa-3072 or "
		    "rsa-4096");
	}
	/* what the approval would find is checked now, too */
	if (ko_needs_second(ko, "rotate"))
		r = (r = rotate_target(
			 ko, name, a.algorithm, &k, errbuf, errlen)) != 0
		    ? r
		    : ko_propose(ko, who, "rotate", name, 0, a.algorithm, reply,
			  errbuf, errlen);
	else if ((r = do_rotate(ko, who, &a, &k, &e, errbuf, errlen)) == 0)
		r = answer(&k, &e, reply);
	json_decref(o);
	return r;
}

int
keyops_move(struct keyops *ko, const struct keyops_caller *who,
    const char *name, const char *action, const char *body, size_t len,
    char **reply, char *errbuf, size_t errlen)
{
	static const char *const known[] = { "version", "confirm", NULL };
	struct action a = { name, 0, NULL, "", who->name, NULL, NULL };
	struct ledger_entry e;
	struct key_row k;
	char want[SD_NAME_MAX + 32];
	const char *confirm;
	json_t *o, *v;
	int bad = 0, r;

	if ((o = ko_parse_body(body, len, known, errbuf, errlen)) == NULL)
		return SD_ERR_BAD_REQUEST;
	v = json_object_get(o, "version");
	confirm = ko_member_str(o, "confirm", sizeof(want), &bad);
	if (bad ||
	    (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1))) {
		json_decref(o);
		return ko_fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "\"version\" is a positive integer");
	}
	a.version = v != NULL ? json_integer_value(v) : 0;
	/* destroying cannot be undone: the exact version, said twice */
	snprintf(want, sizeof(want), "%s v%lld", name, (long long)a.version);
	if (strcmp(action, "destroy") == 0 &&
	    (a.version == 0 || confirm == NULL || strcmp(confirm, want) != 0)) {
		json_decref(o);
		return ko_fail(SD_ERR_BAD_REQUEST, errbuf, errlen,
		    "destroy needs \"version\" and \"confirm\": \"NAME vN\" "
		    "(here \"%s\")",
		    a.version > 0 ? want : "NAME vN");
	}
	json_decref(o);
	if ((r = movable(ko, action, name, a.version, &k, errbuf, errlen)) != 0)
		return r;
	if (ko_needs_second(ko, action))
		return ko_propose(ko, who, action, name, k.version, NULL, reply,
		    errbuf, errlen);
	a.version = k.version;
	if ((r = do_move(ko, who, action, &a, &k, &e, errbuf, errlen)) != 0)
		return r;
	return answer(&k, &e, reply);
}

/* The approval, recorded: the proposal moves from pending to approved in
 * the entry's transaction, so two approvers cannot both run it. */
static int
record_approval(struct keyops *ko, const struct keyops_caller *who,
    struct key_proposal *p, char *errbuf, size_t errlen)
{
	struct ledger_entry e;
	struct key_row k;
	char text[160], detail[SD_DETAIL_MAX];
	uint8_t hash[32];
	int r;

	snprintf(p->approved_by, sizeof(p->approved_by), "%s", who->name);
	ko_proposal_about(p, text, sizeof(text), hash);
	snprintf(detail, sizeof(detail),
	    "approval of %.160s, proposed by %.63s", text, p->proposed_by);
	ko_row_of(&k, p->name, p->version, p->algorithm);
	ko_event(ko, who, &k, "approve", hash, detail, &e);
	e.apply = ledger_keys_approve;
	e.apply_arg = p;
	if ((r = ledger_record(ko->ledger, &e, -1)) != 0)
		return ko_fail(r == SD_ERR_CONFLICT ? r : SD_ERR_LEDGER, errbuf,
		    errlen, "%s",
		    r == SD_ERR_CONFLICT
			? "the proposal was approved or expired meanwhile"
			: "the ledger did not record the approval");
	return 0;
}

/* An approved proposal whose action failed: say so in the ledger. */
static void
record_failure(struct keyops *ko, const struct keyops_caller *who,
    struct key_proposal *p, const char *why)
{
	struct ledger_entry e;
	struct key_row k;
	char text[160], detail[SD_DETAIL_MAX];
	uint8_t hash[32];

	snprintf(p->state, sizeof(p->state), "failed");
	ko_proposal_about(p, text, sizeof(text), hash);
	snprintf(detail, sizeof(detail), "%.160s failed: %.80s", text, why);
	ko_row_of(&k, p->name, p->version, p->algorithm);
	ko_event(ko, who, &k, "fail", hash, detail, &e);
	e.apply = ledger_keys_proposal_end;
	e.apply_arg = p;
	if (ledger_record(ko->ledger, &e, -1) != 0)
		log_error("proposal %lld failed and the failure is not "
			  "recorded: %s",
		    (long long)p->id, why);
}

int
keyops_approve(struct keyops *ko, const struct keyops_caller *who,
    const char *id_text, char **reply, char *errbuf, size_t errlen)
{
	struct key_proposal *ps = NULL, p;
	struct ledger_entry e;
	struct key_row k;
	struct action a;
	char why[SD_DETAIL_MAX], *end;
	long long id;
	size_t n = 0;
	int r;

	id = strtoll(id_text, &end, 10);
	if (*id_text == '\0' || *end != '\0' || id < 1)
		return ko_fail(
		    SD_ERR_NOT_FOUND, errbuf, errlen, "no such proposal");
	if ((r = ledger_keys_proposals(ko->rd, id, 0, &ps, &n)) != 0)
		return ko_fail(r, errbuf, errlen, "cannot read the proposals");
	if (n == 0) {
		free(ps);
		return ko_fail(
		    SD_ERR_NOT_FOUND, errbuf, errlen, "no proposal %lld", id);
	}
	p = ps[0];
	free(ps);
	if (strcmp(p.proposed_by, who->name) == 0)
		return ko_fail(SD_ERR_POLICY_DENIED, errbuf, errlen,
		    "an officer cannot approve their own proposal");
	if (strcmp(p.state, "pending") != 0)
		return ko_fail(SD_ERR_CONFLICT, errbuf, errlen,
		    "proposal %lld is %s", id, p.state);
	if ((r = record_approval(ko, who, &p, errbuf, errlen)) != 0)
		return r;
	snprintf(p.state, sizeof(p.state), "done");
	snprintf(why, sizeof(why), "; proposal %lld by %s, approved by %s", id,
	    p.proposed_by, who->name);
	a = (struct action){ p.name, p.version, p.algorithm, why, p.proposed_by,
		ledger_keys_proposal_end, &p };
	if ((r = run_action(ko, who, p.action, &a, &k, &e, errbuf, errlen)) !=
	    0) {
		record_failure(ko, who, &p, errbuf);
		snprintf(why, sizeof(why), "%.200s", errbuf);
		return ko_fail(r, errbuf, errlen,
		    "proposal %lld approved, but it failed (and is closed): "
		    "%.200s",
		    id, why);
	}
	*reply =
	    ko_dump(json_pack("{s:o,s:o,s:o}", "proposal", ko_proposal_json(&p),
		"key", ko_row_json(&k), "ledger", ko_ledger_ref(&e)));
	return *reply != NULL ? 0 : SD_ERR_NOMEM;
}
