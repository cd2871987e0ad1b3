/*
 * proposals: two-person control (keyops.h).  An action the policy puts
 * under approval (or a destroy) is recorded as a proposal, which another
 * officer approves before it runs (keylife.c); at most one waits for the
 * same change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "err.h"
#include "keyops_int.h"
#include "log.h"

json_t *
ko_proposal_json(const struct key_proposal *p)
{
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)p->id);
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:I,s:I,s:s,s:o}", "id", id,
	    "action", p->action, "name", p->name, "version",
	    p->version > 0 ? json_integer(p->version) : json_null(),
	    "algorithm",
	    p->algorithm[0] != '\0' ? json_string(p->algorithm) : json_null(),
	    "proposed_by", p->proposed_by, "proposed_at",
	    (json_int_t)p->proposed_at, "expires_at", (json_int_t)p->expires_at,
	    "state", p->state, "approved_by",
	    p->approved_by[0] != '\0' ? json_string(p->approved_by)
				      : json_null());
}

int
ko_needs_second(struct keyops *ko, const char *action)
{
	struct pstate *ps = pstate_get(ko->policy);
	int two = strcmp(action, "destroy") == 0 ||
	    policy_approvals_required(ps->policy) >= 2;

	pstate_unref(ps);
	return two;
}

void
ko_proposal_about(
    const struct key_proposal *p, char *text, size_t len, uint8_t hash[32])
{
	snprintf(text, len, "#%lld %s %s%s%.0lld%s%s", (long long)p->id,
	    p->action, p->name, p->version > 0 ? " v" : "",
	    (long long)p->version, p->algorithm[0] != '\0' ? " " : "",
	    p->algorithm);
	EVP_Digest(text, strlen(text), hash, NULL, EVP_sha256(), NULL);
}

void
ko_row_of(struct key_row *k, const char *name, int64_t version, const char *alg)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->version = version;
	snprintf(k->algorithm, sizeof(k->algorithm), "%s", alg);
}

/* One proposal at a time for the same change. */
static int
already_proposed(struct keyops *ko, const char *action, const char *name,
    int64_t version, char *errbuf, size_t errlen)
{
	struct key_proposal *ps = NULL;
	size_t i, n = 0;
	int r;

	if ((r = ledger_keys_proposals(ko->rd, 0, 1, &ps, &n)) != 0)
		return ko_fail(r, errbuf, errlen, "cannot read the proposals");
	for (i = 0; i < n; i++)
		if (strcmp(ps[i].action, action) == 0 &&
		    strcmp(ps[i].name, name) == 0 && ps[i].version == version) {
			r = ko_fail(SD_ERR_CONFLICT, errbuf, errlen,
			    "proposal %lld for this waits for approval already",
			    (long long)ps[i].id);
			break;
		}
	free(ps);
	return r;
}

int
ko_propose(struct keyops *ko, const struct keyops_caller *who,
    const char *action, const char *name, int64_t version,
    const char *algorithm, char **reply, char *errbuf, size_t errlen)
{
	struct pstate *ps = pstate_get(ko->policy);
	struct key_proposal p;
	struct ledger_entry e;
	struct key_row k;
	char text[160], detail[SD_DETAIL_MAX];
	uint8_t hash[32];
	uint64_t id;
	int r;

	memset(&p, 0, sizeof(p));
	p.minutes = policy_approval_minutes(ps->policy);
	pstate_unref(ps);
	if ((r = already_proposed(ko, action, name, version, errbuf, errlen)) !=
	    0)
		return r;
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		return ko_fail(SD_ERR_INTERNAL, errbuf, errlen, "no random");
	p.id = (int64_t)(id >> 11) + 1; /* 1..2^53: exact in JSON numbers */
	snprintf(p.action, sizeof(p.action), "%s", action);
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.version = version;
	snprintf(p.algorithm, sizeof(p.algorithm), "%s",
	    algorithm != NULL ? algorithm : "");
	snprintf(p.proposed_by, sizeof(p.proposed_by), "%s", who->name);
	p.proposed_uid = who->peer->uid;
	ko_proposal_about(&p, text, sizeof(text), hash);
	snprintf(detail, sizeof(detail),
	    "proposal %.160s: needs another officer's approval within %u "
	    "minutes",
	    text, p.minutes);
	ko_row_of(&k, name, version, algorithm != NULL ? algorithm : "");
	ko_event(ko, who, &k, "propose", hash, detail, &e);
	e.apply = ledger_keys_propose;
	e.apply_arg = &p;
	if ((r = ledger_record(ko->ledger, &e, -1)) != 0)
		return ko_fail(r == SD_ERR_CONFLICT ? r : SD_ERR_LEDGER, errbuf,
		    errlen, "the ledger did not record the proposal");
	log_info("key %s: %s proposed by %s (proposal %lld)", name, action,
	    who->name, (long long)p.id);
	*reply = ko_dump(json_pack("{s:o,s:o}", "proposal",
	    ko_proposal_json(&p), "ledger", ko_ledger_ref(&e)));
	return *reply != NULL ? KEYOPS_PROPOSED : SD_ERR_NOMEM;
}

int
keyops_proposals(struct keyops *ko, char **reply, char *errbuf, size_t errlen)
{
	struct key_proposal *p = NULL;
	json_t *arr = json_array();
	size_t i, n = 0;
	int r;

	if ((r = ledger_keys_proposals(ko->rd, 0, 1, &p, &n)) != 0) {
		json_decref(arr);
		return ko_fail(r, errbuf, errlen, "cannot read the proposals");
	}
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, ko_proposal_json(&p[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(p);
	*reply = ko_dump(json_pack("{s:o}", "proposals", arr));
	return *reply != NULL ? 0 : SD_ERR_NOMEM;
}
