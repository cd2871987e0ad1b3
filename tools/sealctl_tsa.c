/*
 * sealctl timestamp: an RFC 3161 client of seald's POST /v1/tsa.  It
 * hashes a file, sends a TimeStampReq with a fresh nonce, checks that the
 * reply answers this request (imprint, nonce, and, with --tsa-cert, the
 * TSA's signature and certificate), writes the TimeStampResp for
 * `openssl ts` and prints what the token says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "sealctl.h"
#include "tsa.h"

struct stamp_opts {
	const char *file, *alg, *policy, *out, *tsa_cert;
	int no_cert;
};

static int
parse(int argc, char **argv, struct stamp_opts *o)
{
	const struct sealctl_opt opts[] = {
		{ "--digest-alg", &o->alg, NULL },
		{ "--policy", &o->policy, NULL },
		{ "--out", &o->out, NULL },
		{ "--tsa-cert", &o->tsa_cert, NULL },
		{ "--no-cert", NULL, &o->no_cert },
	};

	memset(o, 0, sizeof(*o));
	o->alg = "sha256";
	if (sealctl_parse("timestamp", argc, argv, opts, SEALCTL_NOPTS(opts),
		&o->file, 1) != 0)
		return 2;
	if (o->file == NULL)
		return sealctl_usage_error(
		    "timestamp", "give the FILE to stamp");
	if (sealctl_md_by_name(o->alg) == NULL)
		return sealctl_usage_error("timestamp",
		    "--digest-alg is sha256, sha384 or sha512, not \"%.40s\"",
		    o->alg);
	return 0;
}

/*
 * Check resp against the request der: version, imprint, nonce and the
 * policy asked for; with a certificate file, also the token's signature
 * and signer (that certificate, or one it issued, which must then be in
 * the token).  0 when it holds, else -1 with the reason on stderr.
 * OpenSSL's context from a request also asks for the signer
 * (TS_VFY_SIGNER), which cannot be checked without a certificate: the
 * flags are set here, what is checked and nothing else.
 */
static int
check_reply(
    TS_RESP *resp, const uint8_t *der, size_t len, const struct stamp_opts *o)
{
	const unsigned char *p = der;
	TS_REQ *rq = d2i_TS_REQ(NULL, &p, (long)len);
	TS_VERIFY_CTX *ctx =
	    rq != NULL ? TS_REQ_to_TS_VERIFY_CTX(rq, NULL) : NULL;
	STACK_OF(X509) *certs = NULL;
	X509_STORE *st;
	int ok = 0, flags = TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE;

	if (o->policy != NULL)
		flags |= TS_VFY_POLICY;
	if (ctx != NULL && o->tsa_cert != NULL) {
		if ((st = sealctl_trust(o->tsa_cert, &certs)) == NULL)
			goto out;
		TS_VERIFY_CTX_set_store(ctx, st);    /* owned by ctx */
		TS_VERIFY_CTX_set_certs(ctx, certs); /* for tokens without */
		flags |= TS_VFY_SIGNATURE | TS_VFY_SIGNER;
	}
	if (ctx != NULL)
		TS_VERIFY_CTX_set_flags(ctx, flags);
	ok = ctx != NULL && TS_RESP_verify_response(ctx, resp) == 1;
	if (!ok)
		fprintf(stderr,
		    "sealctl: the reply does not answer this request%s\n",
		    o->tsa_cert != NULL ? " or is not signed by that TSA" : "");
out:
	TS_VERIFY_CTX_free(ctx);
	TS_REQ_free(rq);
	return ok ? 0 : -1;
}

static void
print_token(TS_RESP *resp, const char *out)
{
	TS_TST_INFO *ti = TS_RESP_get_tst_info(resp);
	BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
	char pol[96];

	OBJ_obj2txt(pol, sizeof(pol), TS_TST_INFO_get_policy_id(ti), 1);
	BIO_printf(b, "time-stamp written to %s\nserial: 0x", out);
	i2a_ASN1_INTEGER(b, TS_TST_INFO_get_serial(ti));
	BIO_printf(b, "\ntime: ");
	ASN1_GENERALIZEDTIME_print(b, TS_TST_INFO_get_time(ti));
	BIO_printf(b, "\npolicy: %s\n", pol);
	BIO_free(b);
}

int
sealctl_cmd_timestamp(const char *sock, int argc, char **argv)
{
	struct stamp_opts o;
	struct sealctl_buf b = { NULL, 0, 0 };
	uint8_t dg[64], *der = NULL;
	uint64_t nonce = 0;
	char outbuf[4096];
	const unsigned char *p;
	TS_RESP *resp = NULL;
	BIO *err = NULL;
	size_t dlen, len = 0;
	long status = 0;
	int r = 2;

	if (parse(argc, argv, &o) != 0)
		return 2;
	if (o.out == NULL) {
		snprintf(outbuf, sizeof(outbuf), "%s.tsr", o.file);
		o.out = outbuf;
	}
	if (sealctl_hash_file(o.file, sealctl_md_by_name(o.alg), dg, &dlen) !=
		0 ||
	    RAND_bytes((unsigned char *)&nonce, sizeof(nonce)) != 1)
		return 2;
	nonce = (nonce >> 1) | 1; /* positive, never 0 */
	if (tsa_req_build(EVP_MD_get_type(sealctl_md_by_name(o.alg)), dg, dlen,
		o.policy, nonce, !o.no_cert, &der, &len) != 0) {
		fprintf(stderr,
		    "sealctl: cannot build the request (policy "
		    "must be a dotted OID)\n");
		return 2;
	}
	if (sealctl_call(sock, "POST", "/v1/tsa", "application/timestamp-query",
		der, len, &status, &b) != 0) {
		r = 3;
		goto out;
	}
	r = 1;
	p = (const unsigned char *)b.p;
	if (b.p == NULL ||
	    (resp = d2i_TS_RESP(NULL, &p, (long)b.len)) == NULL) {
		fprintf(
		    stderr, "sealctl: HTTP %ld and no TimeStampResp\n", status);
		goto out;
	}
	if (ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
		TS_RESP_get_status_info(resp))) > 1) {
		fprintf(
		    stderr, "sealctl: HTTP %ld, time-stamp refused:\n", status);
		if ((err = BIO_new_fp(stderr, BIO_NOCLOSE)) != NULL)
			TS_STATUS_INFO_print_bio(
			    err, TS_RESP_get_status_info(resp));
		BIO_free(err);
		goto out;
	}
	if (check_reply(resp, der, len, &o) != 0 ||
	    sealctl_write_file(o.out, b.p, b.len) != 0)
		goto out;
	print_token(resp, o.out);
	if (o.tsa_cert == NULL)
		printf("signature: not checked (--tsa-cert names the TSA's "
		       "certificate)\n");
	r = 0;
out:
	TS_RESP_free(resp);
	OPENSSL_free(der);
	free(b.p);
	return r;
}
