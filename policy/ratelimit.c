/*
 * ratelimit: the only state behind a policy decision.  Each client name
 * has a token bucket (per_second tokens a second, at most burst, full at
 * first) and a count of signatures in the current UTC day.  Entries are
 * keyed by client name, not by principal pointer, so that a reloaded
 * policy keeps its clients' counters while their limits are unchanged; a
 * change of limits starts the client afresh.  One mutex guards the table,
 * whose size is capped: at most SD_RATELIMIT_MAX_ENTRIES names, an entry
 * unused for a day being reused when the table is full.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "policy.h"
#include "ratelimit.h"
#include "sd_limits.h"

#define NS_PER_S 1000000000LL
#define NS_PER_DAY (86400LL * NS_PER_S)
/*
 * Tokens are counted exactly, in integers: the rate in millionths of a
 * token a second (policy.yaml allows six decimals), times nanoseconds,
 * gives 10^-15 token units.  burst * 10^15 and a day of nanoseconds times
 * the largest rate both fit in 128 bits, so no float rounding can hand
 * out a token a nanosecond early.
 */
#define RATE_SCALE 1000000ULL
typedef unsigned __int128 units_t;
#define TOKEN ((units_t)RATE_SCALE * (units_t)NS_PER_S)

struct rl_entry {
	char name[SD_NAME_MAX]; /* "" when free */
	uint32_t hash;          /* of name, to skip most strcmp */
	double per_second;      /* the limits this state belongs to */
	unsigned int burst;
	uint64_t daily_quota;
	uint64_t rate;       /* per_second * RATE_SCALE */
	units_t tokens;      /* TOKEN per token */
	int64_t refilled_ns; /* time of the last refill */
	int64_t day;         /* UTC day of used */
	uint64_t used;       /* signatures taken in day */
	int64_t last_ns;     /* last take, for eviction */
};

struct ratelimit {
	pthread_mutex_t mu;
	size_t n; /* entries in use, in e[0..n-1] */
	struct rl_entry e[SD_RATELIMIT_MAX_ENTRIES];
};

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if (pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl);
		return NULL;
	}
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* Floor division, so that times before 1970 fall in the right day. */
static int64_t
utc_day(int64_t ns)
{
	int64_t d = ns / NS_PER_DAY;

	if (ns % NS_PER_DAY < 0)
		d--;
	return d;
}

static int
same_limits(const struct rl_entry *e, const struct policy_principal *c)
{
	return e->per_second == c->per_second && e->burst == c->burst &&
	    e->daily_quota == c->daily_quota;
}

static void
reset(struct rl_entry *e, const struct policy_principal *c, int64_t now_ns)
{
	e->per_second = c->per_second;
	e->burst = c->burst;
	e->daily_quota = c->daily_quota;
	/* per_second <= SD_RATE_MAX_PER_SECOND: at most 10^12 here */
	e->rate = (uint64_t)(c->per_second * (double)RATE_SCALE + 0.5);
	e->tokens = (units_t)c->burst * TOKEN;
	e->refilled_ns = now_ns;
	e->day = utc_day(now_ns);
	e->used = 0;
}

static struct rl_entry *
find(struct ratelimit *rl, const char *name, uint32_t h)
{
	size_t i;

	for (i = 0; i < rl->n; i++)
		if (rl->e[i].hash == h && strcmp(rl->e[i].name, name) == 0)
			return &rl->e[i];
	return NULL;
}

/* A new entry for c: a free slot, else the least recently used entry
 * idle for a day; NULL when every entry is in use. */
static struct rl_entry *
add(struct ratelimit *rl, const struct policy_principal *c, uint32_t h,
    int64_t now_ns)
{
	struct rl_entry *e = NULL;
	size_t i;

	if (rl->n < SD_RATELIMIT_MAX_ENTRIES)
		e = &rl->e[rl->n++];
	else {
		for (i = 0; i < rl->n; i++) {
			if (now_ns - rl->e[i].last_ns <
			    SD_RATELIMIT_IDLE_SECONDS * NS_PER_S)
				continue;
			if (e == NULL || rl->e[i].last_ns < e->last_ns)
				e = &rl->e[i];
		}
		if (e == NULL)
			return NULL;
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->name, c->name, sizeof(e->name));
	e->name[sizeof(e->name) - 1] = '\0';
	e->hash = h;
	reset(e, c, now_ns);
	return e;
}

static void
refill(struct rl_entry *e, int64_t now_ns)
{
	const units_t full = (units_t)e->burst * TOKEN;
	units_t add_units;

	/* A clock stepped back refills nothing until it passes again. */
	if (now_ns <= e->refilled_ns)
		return;
	/* < 2^63 ns times < 2^40 fits; more than a full bucket is cut. */
	add_units =
	    (units_t)((uint64_t)now_ns - (uint64_t)e->refilled_ns) * e->rate;
	e->tokens =
	    full - e->tokens <= add_units ? full : e->tokens + add_units;
	e->refilled_ns = now_ns;
}

int
ratelimit_take(struct ratelimit *rl, const struct policy_principal *c,
    int64_t now_ns, const char **reason)
{
	struct rl_entry *e;
	int64_t day;
	uint32_t h;
	int r = 0;

	*reason = NULL;
	if (c->per_second <= 0 && c->daily_quota == 0)
		return 0;
	h = name_hash(c->name);
	pthread_mutex_lock(&rl->mu);
	if ((e = find(rl, c->name, h)) != NULL && !same_limits(e, c))
		reset(e, c, now_ns);
	if (e == NULL && (e = add(rl, c, h, now_ns)) == NULL) {
		/* XXX more than SD_RATELIMIT_MAX_ENTRIES names active in a
		 * day: refuse rather than forget someone's counters. */
		*reason = "rate";
		r = SD_ERR_RATE_LIMITED;
		goto out;
	}
	e->last_ns = now_ns;
	/* A clock stepped back into an earlier day does not reset it. */
	if ((day = utc_day(now_ns)) > e->day) {
		e->day = day;
		e->used = 0;
	}
	if (e->per_second > 0) {
		refill(e, now_ns);
		if (e->tokens < TOKEN) {
			*reason = "rate";
			r = SD_ERR_RATE_LIMITED;
			goto out;
		}
	}
	if (e->daily_quota > 0 && e->used >= e->daily_quota) {
		*reason = "daily_quota";
		r = SD_ERR_RATE_LIMITED;
		goto out;
	}
	if (e->per_second > 0)
		e->tokens -= TOKEN;
	e->used++;
out:
	pthread_mutex_unlock(&rl->mu);
	return r;
}

void
ratelimit_refund(struct ratelimit *rl, const struct policy_principal *c)
{
	struct rl_entry *e;

	if (c->per_second <= 0 && c->daily_quota == 0)
		return;
	pthread_mutex_lock(&rl->mu);
	/* Limits changed since the take: the state is new, nothing to give
	 * back. */
	if ((e = find(rl, c->name, name_hash(c->name))) != NULL &&
	    same_limits(e, c)) {
		if (e->per_second > 0) {
			e->tokens += TOKEN;
			if (e->tokens > (units_t)e->burst * TOKEN)
				e->tokens = (units_t)e->burst * TOKEN;
		}
		if (e->used > 0)
			e->used--;
	}
	pthread_mutex_unlock(&rl->mu);
}
