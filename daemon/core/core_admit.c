/*
 * core_admit: who may keep a connection to the service socket, decided
 * as it is accepted, before any of its bytes is read (core.h): a caller
 * that the policy in force names, as a client or an auditor, within
 * limits.max_connections_per_uid connections at once.  A stranger or a
 * uid over its limit costs seald one message and a refusal; it holds no
 * connection.  Also the connections' figures in /metrics, and the lines
 * that say a limit tripped: one a reason each 10 s at most, with how many
 * were not said.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "core_int.h"
#include "err.h"
#include "log.h"
#include "reply.h"

#define NBUCKETS                                        \
	(sizeof(((struct core_admission *)0)->bucket) / \
	    sizeof(((struct core_admission *)0)->bucket[0]))

/* A uid's connections admitted. */
struct uid_count {
	uid_t uid;
	unsigned int n;
	struct uid_count *next;
};

/* one gate a reason: its lines at most every SD_LOG_LIMIT_EVERY_MS */
static struct log_gate gate_unknown = LOG_GATE_INIT;
static struct log_gate gate_uid = LOG_GATE_INIT;
static struct log_gate gate_late = LOG_GATE_INIT;

static void
render(struct metrics_text *t, const struct metrics_family *f)
{
	struct core_admission *a =
	    SD_CONTAINER_OF(f, struct core_admission, fam);

	metrics_header(t, "seald_connections_open",
	    "Connections to the service socket admitted and open.", "gauge");
	metrics_printf(
	    t, "seald_connections_open %ld\n", atomic_load(&a->open));
	metrics_header(t, "seald_connections_refused_total",
	    "Connections refused as they were accepted: a caller that "
	    "matches no client or auditor, or a uid over "
	    "max_connections_per_uid.",
	    "counter");
	metrics_printf(t,
	    "seald_connections_refused_total{reason=\"unknown_caller\"} "
	    "%ld\nseald_connections_refused_total{reason=\"uid_limit\"} %ld\n",
	    atomic_load(&a->refused_unknown), atomic_load(&a->refused_uid));
	metrics_header(t, "seald_request_timeouts_total",
	    "Connections closed with 408: a request head or body that did "
	    "not come whole in time.",
	    "counter");
	metrics_printf(t,
	    "seald_request_timeouts_total{part=\"head\"} %ld\n"
	    "seald_request_timeouts_total{part=\"body\"} %ld\n",
	    atomic_load(&a->late_head), atomic_load(&a->late_body));
}

void
core_admission_init(struct core *c)
{
	struct core_admission *a = &c->adm;

	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->serving_mu, NULL);
	pthread_cond_init(&a->serving_cv, NULL);
	a->fam.render = render;
	metrics_add(&a->fam);
}

void
core_admission_free(struct core *c)
{
	struct core_admission *a = &c->adm;
	struct uid_count *u;
	size_t i;

	metrics_remove(&a->fam);
	for (i = 0; i < NBUCKETS; i++)
		while ((u = a->bucket[i]) != NULL) {
			a->bucket[i] = u->next;
			free(u);
		}
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->serving_cv);
	pthread_mutex_destroy(&a->serving_mu);
}

/* uid's entry (made with n 0 when add); NULL when none, or out of
 * memory.  Under a->mu. */
static struct uid_count **
entry(struct core_admission *a, uid_t uid, int add)
{
	struct uid_count **e = &a->bucket[uid % NBUCKETS];

	while (*e != NULL && (*e)->uid != uid)
		e = &(*e)->next;
	if (*e == NULL && add && (*e = calloc(1, sizeof(**e))) != NULL)
		(*e)->uid = uid;
	return *e != NULL ? e : NULL;
}

/* Whether the policy in force names the caller of cc. */
static int
known(struct core_conn *cc)
{
	struct pstate *ps = pstate_get(cc->c->d.policy);
	struct policy_caller caller;
	int r;

	caller.uid = cc->peer.uid;
	caller.gid = cc->peer.gid;
	caller.groups = cc->peer.groups;
	caller.ngroups = cc->peer.ngroups;
	r = policy_match_client(ps->policy, &caller) != NULL ||
	    policy_match_auditor(ps->policy, &caller) != NULL;
	pstate_unref(ps);
	return r;
}

/* Take one more connection for cc's uid: 0, or SD_ERR_TOO_MANY_CONNS. */
static int
take(struct core_conn *cc)
{
	struct core_admission *a = &cc->c->adm;
	unsigned int max = cc->c->d.cfg->max_conns_per_uid;
	struct uid_count **e;
	int r = 0;

	pthread_mutex_lock(&a->mu);
	if ((e = entry(a, cc->peer.uid, 1)) == NULL)
		r = SD_ERR_NOMEM;
	else if ((*e)->n >= max)
		r = SD_ERR_TOO_MANY_CONNS;
	else
		(*e)->n++;
	pthread_mutex_unlock(&a->mu);
	if (r == 0) {
		cc->admitted = 1;
		atomic_fetch_add(&a->open, 1);
	}
	return r;
}

/* A refusal said, at most once per SD_LOG_LIMIT_EVERY_MS a reason. */
static void
say(struct log_gate *g, const struct core_conn *cc, const char *what)
{
	unsigned long missed;

	if (log_gate_pass(g, SD_LOG_LIMIT_EVERY_MS, &missed))
		log_warn("uid %u gid %u pid %d: %s (and %lu more like it "
			 "since this was last said)",
		    (unsigned int)cc->peer.uid, (unsigned int)cc->peer.gid,
		    (int)cc->peer.pid, what, missed);
}

int
core_admit(struct core_conn *cc, struct proto_reply *reply)
{
	struct core_admission *a = &cc->c->adm;
	const char *msg = NULL;
	int r;

	if (cc->no_copy) {
		r = SD_ERR_BUSY;
	} else if (cc->fd < 0 || !known(cc)) {
		r = SD_ERR_UNAUTHENTICATED;
		msg = "this uid/gid is not a client of seald";
		if (cc->fd >= 0) {
			atomic_fetch_add(&a->refused_unknown, 1);
			say(&gate_unknown, cc,
			    "refused at connect: matches no client or "
			    "auditor of the policy");
		}
	} else if ((r = take(cc)) == SD_ERR_TOO_MANY_CONNS) {
		atomic_fetch_add(&a->refused_uid, 1);
		say(&gate_uid, cc,
		    "refused at connect: over max_connections_per_uid");
	}
	if (r == 0)
		return 0;
	reply->status = sd_err_http_status(r);
	reply->ctype = PROTO_JSON;
	reply->body = reply_error(r, msg, NULL);
	reply->len = reply->body != NULL ? strlen(reply->body) : 0;
	return -1;
}

void
core_admission_end(struct core_conn *cc, enum proto_close_why why)
{
	struct core_admission *a = &cc->c->adm;
	struct uid_count **e, *u;

	if (why == PROTO_HEAD_LATE || why == PROTO_BODY_LATE) {
		atomic_fetch_add(
		    why == PROTO_HEAD_LATE ? &a->late_head : &a->late_body, 1);
		say(&gate_late, cc,
		    why == PROTO_HEAD_LATE
			? "408: its request head did not come whole in time"
			: "408: its request body did not come whole in time");
	}
	if (!cc->admitted)
		return;
	cc->admitted = 0;
	atomic_fetch_sub(&a->open, 1);
	pthread_mutex_lock(&a->mu);
	if ((e = entry(a, cc->peer.uid, 0)) != NULL && --(*e)->n == 0) {
		u = *e;
		*e = u->next;
		free(u);
	}
	pthread_mutex_unlock(&a->mu);
}

void
core_front_serving(struct core *c)
{
	pthread_mutex_lock(&c->adm.serving_mu);
	c->adm.serving = 1;
	pthread_cond_broadcast(&c->adm.serving_cv);
	pthread_mutex_unlock(&c->adm.serving_mu);
}

int
core_wait_serving(struct core *c, long ms)
{
	struct timespec until;
	int r;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->adm.serving_mu);
	while (!c->adm.serving &&
	    pthread_cond_timedwait(
		&c->adm.serving_cv, &c->adm.serving_mu, &until) == 0)
		;
	r = c->adm.serving;
	pthread_mutex_unlock(&c->adm.serving_mu);
	return r;
}
