/*
 * core_metrics: what the core adds to /metrics (metrics.h): the service
 * socket's endpoints, counted by creq.c as each request is answered, and
 * the daemon's state, which is not a count: readiness of the HSM and the
 * ledger, the keys that sign now and the days their certificates have
 * left.
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "core_int.h"
#include "metrics.h"
#include "queue.h"

/* the endpoints, by their names in proto_route_name */
static struct metrics_endpoint endpoints[] = {
	METRICS_ENDPOINT("sign"),
	METRICS_ENDPOINT("tsa"),
	METRICS_ENDPOINT("timestamp"),
	METRICS_ENDPOINT("keys"),
	METRICS_ENDPOINT("ledger"),
	METRICS_ENDPOINT("health"),
	METRICS_ENDPOINT("metrics"),
	METRICS_ENDPOINT("other"),
};
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

void
core_metrics_request(enum proto_route r, unsigned int status, long us)
{
	const char *name = proto_route_name(r);
	size_t i;

	for (i = 0; i < NENDPOINTS - 1; i++)
		if (strcmp(endpoints[i].name, name) == 0)
			break;
	metrics_request(&endpoints[i], status, us); /* else "other" */
}

static void
render_state(struct metrics_text *t, const struct metrics_family *f)
{
	const struct core *c = SD_CONTAINER_OF(f, struct core, state);
	struct pstate *ps = pstate_get(c->d.policy);
	const struct sd_keys *ks = ps->keys;
	size_t i;
	int days, secs;

	metrics_header(
	    t, "seald_ready", "Whether seald is ready (HSM, ledger).", "gauge");
	metrics_printf(t,
	    "seald_ready{part=\"hsm\"} %d\nseald_ready{part=\"ledger\"} %d\n",
	    hsm_ready(c->d.hsm), ledger_ready(c->d.ledger));
	metrics_header(t, "seald_keys_served", "Keys that sign now.", "gauge");
	metrics_printf(t, "seald_keys_served %zu\n", ks->n);
	if (ks->have_states) {
		metrics_header(t, "seald_managed_keys",
		    "Versions of managed keys by state.", "gauge");
		for (i = 0; i < KEYS_NSTATES; i++)
			metrics_printf(t,
			    "seald_managed_keys{state=\"%s\"} %zu\n",
			    keys_state_names[i], ks->states[i]);
	}
	metrics_header(t, "seald_key_certificate_days_left",
	    "Days until a served key's certificate expires.", "gauge");
	for (i = 0; i < ks->n; i++)
		if (ks->k[i].cert != NULL &&
		    ASN1_TIME_diff(&days, &secs, NULL,
			X509_get0_notAfter(ks->k[i].cert)) == 1)
			metrics_printf(t,
			    "seald_key_certificate_days_left{key=\"%s\","
			    "version=\"%lld\"} %.2f\n",
			    ks->k[i].pk->name, (long long)ks->k[i].version,
			    days + secs / 86400.0);
	pstate_unref(ps);
}

void
core_metrics_start(struct core *c)
{
	size_t i;

	for (i = 0; i < NENDPOINTS; i++)
		metrics_add_endpoint(&endpoints[i]);
	c->state.render = render_state;
	metrics_add(&c->state);
}

void
core_metrics_stop(struct core *c)
{
	metrics_remove(&c->state);
}
