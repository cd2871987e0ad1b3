/*
 * fcmsg: encoding and strict decoding of the front/core messages.
 */
#include <string.h>

#include "err.h"
#include "fcmsg.h"
#include "metrics.h"
#include "name.h"

static void
put_sign(struct wire_w *w, const struct sign_req *s)
{
	wire_str(w, s->key);
	wire_u8(w, (uint8_t)s->digest_alg);
	wire_bytes(w, s->digest, s->digest_len);
	wire_str(w, s->format);
	wire_str(w, s->request_id);
	wire_str(w, s->evidence_type);
	wire_str(w, s->evidence_ref);
}

static void
get_sign(struct wire_r *r, struct sign_req *s)
{
	wire_get_str(r, s->key, sizeof(s->key));
	s->digest_alg = (enum sign_digest)wire_get_u8(r);
	s->digest_len = wire_get_bytes(r, s->digest, sizeof(s->digest));
	wire_get_str(r, s->format, sizeof(s->format));
	wire_get_str(r, s->request_id, sizeof(s->request_id));
	wire_get_str(r, s->evidence_type, sizeof(s->evidence_type));
	wire_get_str(r, s->evidence_ref, sizeof(s->evidence_ref));
}

static void
put_tsa(struct wire_w *w, const struct tsa_req *t)
{
	wire_u32(w, (uint32_t)t->md_nid);
	wire_bytes(w, t->digest, t->digest_len);
	wire_bytes(w, t->imprint, t->imprint_len);
	wire_str(w, t->policy);
	wire_bytes(w, t->nonce, t->nonce_len);
	wire_u8(w, (uint8_t)t->cert_req);
}

/* (no hash: the core takes it itself, tsa_req_hash) */
static void
get_tsa(struct wire_r *r, struct tsa_req *t)
{
	t->md_nid = (int)wire_get_u32(r);
	t->digest_len = wire_get_bytes(r, t->digest, sizeof(t->digest));
	t->imprint_len = wire_get_bytes(r, t->imprint, sizeof(t->imprint));
	wire_get_str(r, t->policy, sizeof(t->policy));
	t->nonce_len = wire_get_bytes(r, t->nonce, sizeof(t->nonce));
	t->cert_req = wire_get_u8(r);
}

static void
put_lookup(struct wire_w *w, const struct core_lookup *l)
{
	wire_str(w, l->instance);
	wire_u64(w, (uint64_t)l->seq);
	wire_u64(w, (uint64_t)l->after);
	wire_u32(w, l->limit);
}

static void
get_lookup(struct wire_r *r, struct core_lookup *l)
{
	wire_get_str(r, l->instance, sizeof(l->instance));
	l->seq = (int64_t)wire_get_u64(r);
	l->after = (int64_t)wire_get_u64(r);
	l->limit = wire_get_u32(r);
}

static void
put_req(struct wire_w *w, const struct core_req *q)
{
	wire_u16(w, (uint16_t)q->route);
	wire_u16(w, (uint16_t)-q->refused);
	wire_str(w, q->why);
	wire_u8(w, (uint8_t)q->tsa_reject);
	wire_u8(w, (uint8_t)q->tsa_fail);
	if (q->refused != 0) {
		if (q->route == CORE_SIGN)
			wire_str(w, q->u.sign.request_id);
		return;
	}
	switch (q->route) {
	case CORE_SIGN:
		put_sign(w, &q->u.sign);
		break;
	case CORE_TSA:
	case CORE_STAMP:
		put_tsa(w, &q->u.tsa);
		break;
	case CORE_LEDGER:
		put_lookup(w, &q->u.lookup);
		break;
	default:
		break;
	}
}

static void
get_req(struct wire_r *r, struct core_req *q)
{
	q->route = (enum core_route)wire_get_u16(r);
	q->refused = -(int)wire_get_u16(r);
	wire_get_str(r, q->why, sizeof(q->why));
	q->tsa_reject = wire_get_u8(r);
	q->tsa_fail = wire_get_u8(r);
	if (q->refused != 0) {
		if (q->route == CORE_SIGN)
			wire_get_str(r, q->u.sign.request_id,
			    sizeof(q->u.sign.request_id));
		return;
	}
	switch (q->route) {
	case CORE_SIGN:
		get_sign(r, &q->u.sign);
		return;
	case CORE_TSA:
	case CORE_STAMP:
		get_tsa(r, &q->u.tsa);
		return;
	case CORE_LEDGER:
		get_lookup(r, &q->u.lookup);
		return;
	default:
		return;
	}
}

/* The refusals a front makes: what it can tell from the bytes alone. */
static int
refusal_ok(int r)
{
	return r == 0 || r == SD_ERR_BAD_REQUEST || r == SD_ERR_NOT_FOUND ||
	    r == SD_ERR_METHOD || r == SD_ERR_TOO_LARGE || r == SD_ERR_SHUTDOWN;
}

static int
tsa_fail_ok(int f)
{
	return f == TSA_BAD_ALG || f == TSA_BAD_REQUEST ||
	    f == TSA_BAD_DATA_FORMAT || f == TSA_TIME_NOT_AVAILABLE ||
	    f == TSA_UNACCEPTED_POLICY || f == TSA_UNACCEPTED_EXTENSION ||
	    f == TSA_SYSTEM_FAILURE;
}

/* The rules of a decoded core_req (see fcmsg.h). */
static int
req_ok(const struct core_req *q)
{
	const struct core_lookup *l = &q->u.lookup;
	size_t n;

	if (q->route >= CORE_NROUTES || !refusal_ok(q->refused) ||
	    !sd_utf8_valid(q->why, strlen(q->why)) ||
	    (q->refused == 0 && q->why[0] != '\0') ||
	    (q->tsa_reject != 0 &&
		(q->tsa_reject != 1 || q->route != CORE_TSA ||
		    q->refused == 0 || !tsa_fail_ok(q->tsa_fail))) ||
	    (q->tsa_reject == 0 && q->tsa_fail != 0))
		return 0;
	if (q->refused != 0)
		return q->route != CORE_SIGN ||
		    sd_utf8_valid(
			q->u.sign.request_id, strlen(q->u.sign.request_id));
	switch (q->route) {
	case CORE_SIGN:
		return sign_req_check(&q->u.sign) == 0;
	case CORE_TSA:
	case CORE_STAMP:
		return tsa_req_check(&q->u.tsa) == 0;
	case CORE_LEDGER:
		n = strlen(l->instance);
		return sd_name_valid(l->instance, n) && l->seq >= 0 &&
		    l->after >= 0 &&
		    (l->seq > 0
			    ? l->after == 0 && l->limit == 0
			    : l->limit >= 1 && l->limit <= SD_LEDGER_PAGE_MAX);
	default:
		return 1;
	}
}

static const char *const ctypes[FC_NCTYPES] = {
	[FC_CT_JSON] = CORE_CT_JSON,
	[FC_CT_TSR] = CORE_CT_TSR,
	[FC_CT_METRICS] = METRICS_CTYPE,
};

const char *
fc_ctype_name(enum fc_ctype ct)
{
	return (unsigned int)ct < FC_NCTYPES ? ctypes[ct] : NULL;
}

int
fc_ctype_of(const char *name)
{
	int i;

	for (i = 0; i < FC_NCTYPES; i++)
		if (strcmp(name, ctypes[i]) == 0)
			return i;
	return -1;
}

int
fc_encode(const struct fc_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct wire_w w;

	wire_begin(&w, buf, cap, (uint16_t)m->type);
	switch (m->type) {
	case FC_CONN:
	case FC_CLOSE:
		wire_u64(&w, m->conn);
		break;
	case FC_BEGIN:
		wire_u64(&w, m->conn);
		wire_u64(&w, m->req);
		wire_u16(&w, (uint16_t)m->rq.route);
		break;
	case FC_GO:
		wire_u64(&w, m->req);
		break;
	case FC_REQ:
		wire_u64(&w, m->conn);
		wire_u64(&w, m->req);
		put_req(&w, &m->rq);
		break;
	case FC_REPLY:
		if (m->body_len > FC_BODY_MAX)
			return SD_ERR_TOO_LARGE;
		wire_u64(&w, m->req);
		wire_u16(&w, (uint16_t)m->status);
		wire_u8(&w, (uint8_t)m->ctype);
		wire_bytes(&w, m->body, m->body_len);
		break;
	case FC_STOP:
		break;
	default:
		return SD_ERR_BAD_REQUEST;
	}
	return wire_end(&w, len);
}

int
fc_decode(const uint8_t *buf, size_t len, struct fc_msg *m)
{
	struct wire_r r;
	uint16_t type;
	int bad = 0;

	memset(m, 0, sizeof(*m));
	if (wire_open(&r, buf, len, FC_NTYPES, &type) != 0)
		return SD_ERR_BAD_REQUEST;
	m->type = (enum fc_type)type;
	switch (m->type) {
	case FC_CONN:
	case FC_CLOSE:
		m->conn = wire_get_u64(&r);
		break;
	case FC_BEGIN:
		m->conn = wire_get_u64(&r);
		m->req = wire_get_u64(&r);
		m->rq.route = (enum core_route)wire_get_u16(&r);
		bad = m->rq.route >= CORE_NROUTES;
		break;
	case FC_GO:
		m->req = wire_get_u64(&r);
		break;
	case FC_REQ:
		m->conn = wire_get_u64(&r);
		m->req = wire_get_u64(&r);
		get_req(&r, &m->rq);
		break;
	case FC_REPLY:
		m->req = wire_get_u64(&r);
		m->status = wire_get_u16(&r);
		m->ctype = (enum fc_ctype)wire_get_u8(&r);
		m->body = wire_get_view(&r, FC_BODY_MAX, &m->body_len);
		bad = m->status < 100 || m->status > 599 ||
		    (unsigned int)m->ctype >= FC_NCTYPES;
		break;
	case FC_STOP:
		break;
	default:
		return SD_ERR_BAD_REQUEST;
	}
	if (wire_close(&r) != 0 || bad ||
	    (m->type == FC_REQ && !req_ok(&m->rq)))
		return SD_ERR_BAD_REQUEST;
	return 0;
}
