/*
 * gauges: the metrics that are states, not counts (gauges.h).
 */
#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "gauges.h"

void
gauges(struct metrics_text *t, struct hsm *h, struct ledger *l,
    const struct sd_keys *ks)
{
	size_t i;
	int days, secs;

	metrics_printf(t,
	    "# HELP seald_ready Whether seald is ready (HSM, ledger).\n"
	    "# TYPE seald_ready gauge\nseald_ready{part=\"hsm\"} %d\n"
	    "seald_ready{part=\"ledger\"} %d\n"
	    "# HELP seald_keys_served Keys that sign now.\n"
	    "# TYPE seald_keys_served gauge\nseald_keys_served %zu\n",
	    hsm_ready(h), ledger_ready(l), ks->n);
	if (ks->have_states) {
		metrics_printf(t,
		    "# HELP seald_managed_keys Versions of managed keys by "
		    "state.\n# TYPE seald_managed_keys gauge\n");
		for (i = 0; i < KEYS_NSTATES; i++)
			metrics_printf(t,
			    "seald_managed_keys{state=\"%s\"} %zu\n",
			    keys_state_names[i], ks->states[i]);
	}
	metrics_printf(t,
	    "# HELP seald_key_certificate_days_left Days until a served "
	    "key's certificate expires.\n"
	    "# TYPE seald_key_certificate_days_left gauge\n");
	for (i = 0; i < ks->n; i++)
		if (ks->k[i].cert != NULL &&
		    ASN1_TIME_diff(&days, &secs, NULL,
			X509_get0_notAfter(ks->k[i].cert)) == 1)
			metrics_printf(t,
			    "seald_key_certificate_days_left{key=\"%s\","
			    "version=\"%lld\"} %.2f\n",
			    ks->k[i].pk->name, (long long)ks->k[i].version,
			    days + secs / 86400.0);
}
