/*
 * seal: what the HSM signs for a job (seal.h): a raw signature or a CMS
 * seal over the client's digest, or an RFC 3161 token whose genTime comes
 * from a clock that never goes back.  The key never leaves the HSM: the
 * CMS and TSA encoders get a signing callback, not a key.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include "clock.h"
#include "cms.h"
#include "err.h"
#include "log.h"
#include "sd_limits.h"
#include "seal.h"
#include "tsa.h"

_Static_assert((int)SIGN_SHA256 == (int)HSM_SHA256 &&
	(int)SIGN_SHA384 == (int)HSM_SHA384 &&
	(int)SIGN_SHA512 == (int)HSM_SHA512,
    "sign_digest and hsm_digest must agree");

struct hsm_call {
	struct hsm *hsm;
	const struct sd_key *key;
	enum hsm_digest alg;
	const struct timespec *until; /* the request's deadline for a session */
};

static int
hsm_call_sign(void *arg, const uint8_t *digest, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen)
{
	const struct hsm_call *c = arg;

	return hsm_sign_by(c->hsm, c->until, c->key->hk, c->key->scheme, c->alg,
	    digest, dglen, sig, cap, siglen);
}

/* A request waits for an HSM session at most SD_SIGN_QUEUE_WAIT_MS in
 * all, counted from when it was queued for a worker: a session held by
 * a hung call elsewhere (a checkpoint's, the monitor's test signature)
 * does not add a second wait to the first. */
static struct timespec
session_deadline(const struct sign_job *j)
{
	long left = SD_SIGN_QUEUE_WAIT_MS - sd_ms_since(&j->queued_at);

	return sd_deadline_ms(left > 0 ? left : 0);
}

/* A seal or token that does not fit is the key's certificates' fault,
 * not the client's: an internal error, logged. */
static int
too_large(int r, const struct sd_key *k)
{
	if (r != SD_ERR_TOO_LARGE)
		return r;
	log_error("key %s: its CMS does not fit in %d bytes (certificates "
		  "too large)",
	    k->pk->name, SD_SEAL_MAX);
	return SD_ERR_INTERNAL;
}

/* The CMS signer of key k, signing through call; -1 without a
 * certificate. */
static int
cms_signer_of(
    const struct sd_key *k, struct hsm_call *call, struct cms_signer *cs)
{
	if (k->cert == NULL)
		return -1;
	memset(cs, 0, sizeof(*cs));
	cs->cert = k->cert;
	cs->chain = k->chain;
	cs->pub = hsm_key_public(k->hk);
	cs->scheme = k->scheme == HSM_ECDSA ? CMS_SCHEME_ECDSA
	    : k->scheme == HSM_RSA_PSS      ? CMS_SCHEME_PSS
					    : CMS_SCHEME_PKCS1;
	cs->sign = hsm_call_sign;
	cs->arg = call;
	return 0;
}

/* The kernel's word on the clock (adjtimex): 1 when synchronized, with
 * a maximum error within the accuracy tokens state (ms; 0: none). */
static int
clock_synced(unsigned int accuracy_ms)
{
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	return state != -1 && state != TIME_ERROR &&
	    !(tx.status & STA_UNSYNC) &&
	    (accuracy_ms == 0 || tx.maxerror <= (long)accuracy_ms * 1000L);
}

/* The token's time: now, unless the clock is not to be trusted or went
 * back behind a token already issued. */
static int
tsa_time(struct seal_clock *clk, unsigned int accuracy_ms, int64_t *us)
{
	int r = 0;

	if (clk->require_sync && !clock_synced(accuracy_ms)) {
		log_warn("time-stamp refused: the kernel reports the clock "
			 "unsynchronized");
		return SD_ERR_CLOCK;
	}
	pthread_mutex_lock(&clk->lock);
	*us = sd_now_us();
	if (*us < clk->last_us) {
		log_error("time-stamp refused: the clock is %lld us behind the "
			  "last token issued",
		    (long long)(clk->last_us - *us));
		r = SD_ERR_CLOCK;
	} else {
		clk->last_us = *us;
	}
	pthread_mutex_unlock(&clk->lock);
	return r;
}

/* The token signing digest of TSA key k: SHA-384 for P-384, else
 * SHA-256. */
static enum hsm_digest
token_md(const struct sd_key *k)
{
	return hsm_key_is_ec(k->hk) && hsm_key_bits(k->hk) == 384 ? HSM_SHA384
								  : HSM_SHA256;
}

/*
 * A token of TSA key call->key for req into out (cap bytes): its time checked
 * (tsa_time) into *gen_us, a fresh serial of SEAL_SERIAL_LEN bytes,
 * signed in the HSM; dropped (SD_ERR_BUSY) when the HSM took longer than
 * the stated accuracy, since genTime is taken before it signs.
 */
#define SEAL_SERIAL_LEN 16
static int
issue_token(struct hsm_call *call, struct seal_clock *clk,
    const struct tsa_req *req, uint8_t *out, size_t cap, size_t *outlen,
    uint8_t serial[SEAL_SERIAL_LEN], int64_t *gen_us)
{
	const struct sd_key *k = call->key;
	unsigned int acc = k->pk->tsa_accuracy_ms;
	struct timespec t0;
	struct cms_signer cs;
	struct tsa_grant g;
	int r;

	if (cms_signer_of(k, call, &cs) != 0)
		return SD_ERR_INTERNAL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = tsa_time(clk, acc, gen_us)) != 0)
		return r;
	/* 126 random bits, positive, first byte never 0: the serial's DER
	 * INTEGER holds exactly these 16 bytes */
	if (RAND_bytes(serial, SEAL_SERIAL_LEN) != 1)
		return SD_ERR_INTERNAL;
	serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
	memset(&g, 0, sizeof(g));
	g.req = req;
	g.policy = k->pk->tsa_policy;
	g.serial = serial;
	g.serial_len = SEAL_SERIAL_LEN;
	g.gen_us = *gen_us;
	g.accuracy_ms = acc;
	g.md_nid = call->alg == HSM_SHA384 ? NID_sha384 : NID_sha256;
	if ((r = tsa_token(&cs, &g, out, cap, outlen)) != 0)
		return too_large(r, k);
	if (sd_ms_since(&t0) > (long)(acc > 0 ? acc : 1000)) {
		log_warn("time-stamp dropped: signing took %ld ms, more than "
			 "the stated accuracy",
		    sd_ms_since(&t0));
		return SD_ERR_BUSY;
	}
	return 0;
}

/* Issue the job's time-stamp token into its (timestamp) entry. */
int
seal_tsa(struct hsm *h, struct seal_clock *clk, struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	const struct sd_key *k = j->key;
	struct timespec until = session_deadline(j);
	struct hsm_call call = { h, k, token_md(k), &until };
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = issue_token(&call, clk, &j->tsa, e->sig, sizeof(e->sig),
		 &e->sig_len, e->tsa_serial, &e->signed_at_us)) != 0)
		return r;
	e->kind = LEDGER_TIMESTAMP;
	snprintf(e->client, sizeof(e->client), "%s", j->client);
	e->client_uid = j->peer.uid;
	e->client_pid = j->peer.pid;
	memcpy(e->request_hash, j->tsa.hash, SD_HASH_LEN);
	snprintf(e->key_name, sizeof(e->key_name), "%s", k->pk->name);
	e->key_version = k->version;
	keys_sig_alg(k, token_md(k) == HSM_SHA384 ? SIGN_SHA384 : SIGN_SHA256,
	    e->algorithm, sizeof(e->algorithm));
	snprintf(e->digest_alg, sizeof(e->digest_alg), "%s",
	    OBJ_nid2ln(j->tsa.md_nid)); /* "sha256" */
	memcpy(e->digest, j->tsa.digest, j->tsa.digest_len);
	e->digest_len = j->tsa.digest_len;
	snprintf(e->format, sizeof(e->format), "rfc3161");
	e->tsa_serial_len = SEAL_SERIAL_LEN;
	snprintf(e->tsa_policy, sizeof(e->tsa_policy), "%s", k->pk->tsa_policy);
	memcpy(e->policy_hash, j->policy_hash, SD_HASH_LEN);
	return 0;
}

/* A cades-t seal's time-stamp, made by cms_seal's stamp callback once
 * the HSM signed the seal: a token of the job's tsa_key over the hash
 * (with the seal's digest algorithm) of the signature value, as the
 * signature-time-stamp attribute wants (ETSI EN 319 122-1 5.3). */
struct stamp_call {
	struct hsm_call tsa; /* the job's tsa_key */
	struct seal_clock *clk;
	struct sign_job *j;
	uint8_t tok[SD_SEAL_MAX];
	size_t toklen;
};

/* The TimeStampReq a client would send for the signature value sv
 * (certReq set, no nonce, any policy), decoded into req. */
static int
stamp_request(int md_nid, const uint8_t *sv, size_t len, struct tsa_req *req)
{
	uint8_t dg[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int dglen;
	size_t derlen;
	enum tsa_fail fail;
	char why[128];
	int r = SD_ERR_INTERNAL;

	if (EVP_Digest(
		sv, len, dg, &dglen, EVP_get_digestbynid(md_nid), NULL) == 1 &&
	    tsa_req_build(md_nid, dg, dglen, NULL, 0, 1, &der, &derlen) == 0 &&
	    tsa_req_decode(der, derlen, req, &fail, why, sizeof(why)) == 0)
		r = 0;
	OPENSSL_free(der);
	return r;
}

static int
stamp_sigval(void *arg, const uint8_t *sv, size_t len, const uint8_t **tok,
    size_t *toklen)
{
	struct stamp_call *sc = arg;
	struct sign_job *j = sc->j;
	struct ledger_entry *e = &j->entry;
	struct tsa_req req;
	int64_t gen_us;
	int r;

	if ((r = stamp_request(
		 sign_digest_nid(j->req.digest_alg), sv, len, &req)) != 0 ||
	    (r = issue_token(&sc->tsa, sc->clk, &req, sc->tok, sizeof(sc->tok),
		 &sc->toklen, e->tsa_serial, &gen_us)) != 0)
		return r;
	/* the token proves the seal existed at genTime: never before the
	 * time the seal states (its signing-time is the entry's, cut to the
	 * second) */
	if (gen_us < e->signed_at_us) {
		log_error("seal refused: the clock went back %lld us while it "
			  "was signed",
		    (long long)(e->signed_at_us - gen_us));
		return SD_ERR_CLOCK;
	}
	e->signed_at_us = gen_us; /* the entry's time: its token's */
	e->tsa_serial_len = SEAL_SERIAL_LEN;
	snprintf(e->tsa_policy, sizeof(e->tsa_policy), "%s",
	    j->tsa_key->pk->tsa_policy);
	*tok = sc->tok;
	*toklen = sc->toklen;
	return 0;
}

/* The job's digest signed in its format: a bare signature (raw), a
 * detached CAdES-B-B SignedData (cms) whose signing-time is the entry's
 * time, or that seal with its signature time-stamp (cades-t; the entry's
 * time becomes the token's genTime), into j->entry. */
int
seal_sign(struct hsm *h, struct seal_clock *clk, struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	struct timespec until = session_deadline(j);
	struct hsm_call call = { h, j->key, (enum hsm_digest)j->req.digest_alg,
		&until };
	struct stamp_call sc;
	struct cms_signer cs;
	struct cms_content cc;

	if (strcmp(j->req.format, "raw") == 0)
		return hsm_call_sign(&call, j->req.digest, j->req.digest_len,
		    e->sig, sizeof(e->sig), &e->sig_len);
	if (cms_signer_of(j->key, &call, &cs) != 0)
		return SD_ERR_INTERNAL; /* keys_load refuses such a policy */
	memset(&cc, 0, sizeof(cc));
	cc.md_nid = sign_digest_nid(j->req.digest_alg);
	cc.digest = j->req.digest;
	cc.digest_len = j->req.digest_len;
	cc.signing_time = (time_t)(e->signed_at_us / 1000000);
	if (strcmp(j->req.format, "cades-t") == 0) {
		/* nothing is signed that could not be stamped */
		if (clk->require_sync &&
		    !clock_synced(j->tsa_key->pk->tsa_accuracy_ms)) {
			log_warn("cades-t seal refused: the kernel reports the "
				 "clock unsynchronized");
			return SD_ERR_CLOCK;
		}
		sc.tsa.hsm = h;
		sc.tsa.key = j->tsa_key;
		sc.tsa.alg = token_md(j->tsa_key);
		sc.tsa.until = &until;
		sc.clk = clk;
		sc.j = j;
		sc.toklen = 0;
		cc.stamp = stamp_sigval;
		cc.stamp_arg = &sc;
	}
	return too_large(
	    cms_seal(&cs, &cc, e->sig, sizeof(e->sig), &e->sig_len), j->key);
}
