/*
 * proto: the rules of the front/core messages, their encoding and their
 * strict decoding (proto.h).
 */
#include <string.h>

#include "err.h"
#include "metrics.h"
#include "name.h"
#include "proto.h"

/* the fixed lengths: a header and its u64s (and a route) */
#define U64_MSG (WIRE_HDR + 8)
#define REQ_MIN (WIRE_HDR + 16 + 2 + 2 + 4 + 1 + 1)
#define REPLY_MIN (WIRE_HDR + 8 + 2 + 1 + 4)

#define ADMIT_MIN (WIRE_HDR + 8 + 2 + 1 + 4)

const struct proto_rule proto_rules[PROTO_NTYPES] = {
	[PROTO_CONN] = { "conn", PROTO_TO_CORE, U64_MSG, U64_MSG, 1, 0 },
	[PROTO_CLOSE] = { "close", PROTO_TO_CORE, U64_MSG + 1, U64_MSG + 1, 0,
	    0 },
	[PROTO_BEGIN] = { "begin", PROTO_TO_CORE, U64_MSG + 10, U64_MSG + 10, 0,
	    0 },
	[PROTO_GO] = { "go", PROTO_TO_FRONT, U64_MSG, U64_MSG, 0, 0 },
	[PROTO_REQ] = { "req", PROTO_TO_CORE, REQ_MIN, PROTO_TO_CORE_MAX, 0,
	    0 },
	[PROTO_REPLY] = { "reply", PROTO_TO_FRONT, REPLY_MIN,
	    PROTO_TO_FRONT_MAX, 0, 0 },
	[PROTO_STOP] = { "stop", PROTO_TO_FRONT, WIRE_HDR, WIRE_HDR, 0, 1 },
	[PROTO_ADMIT] = { "admit", PROTO_TO_FRONT, ADMIT_MIN,
	    ADMIT_MIN + PROTO_ADMIT_BODY_MAX, 0, 0 },
	[PROTO_SERVING] = { "serving", PROTO_TO_CORE, WIRE_HDR, WIRE_HDR, 0,
	    1 },
};

static const char *const route_names[PROTO_NROUTES] = {
	[PROTO_NONE] = "other",
	[PROTO_HEALTHZ] = "health",
	[PROTO_READYZ] = "health",
	[PROTO_SIGN] = "sign",
	[PROTO_KEYS] = "keys",
	[PROTO_LEDGER] = "ledger",
	[PROTO_TSA] = "tsa",
	[PROTO_STAMP] = "timestamp",
	[PROTO_METRICS] = "metrics",
};

const char *
proto_route_name(enum proto_route r)
{
	return route_names[(unsigned int)r < PROTO_NROUTES ? r : PROTO_NONE];
}

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
put_lookup(struct wire_w *w, const struct proto_lookup *l)
{
	wire_str(w, l->instance);
	wire_u64(w, (uint64_t)l->seq);
	wire_u64(w, (uint64_t)l->after);
	wire_u32(w, l->limit);
}

static void
get_lookup(struct wire_r *r, struct proto_lookup *l)
{
	wire_get_str(r, l->instance, sizeof(l->instance));
	l->seq = (int64_t)wire_get_u64(r);
	l->after = (int64_t)wire_get_u64(r);
	l->limit = wire_get_u32(r);
}

static void
put_req(struct wire_w *w, const struct proto_req *q)
{
	wire_u16(w, (uint16_t)q->route);
	wire_u16(w, (uint16_t)-q->refused);
	wire_str(w, q->why);
	wire_u8(w, (uint8_t)q->tsa_reject);
	wire_u8(w, (uint8_t)q->tsa_fail);
	if (q->refused != 0) {
		if (q->route == PROTO_SIGN)
			wire_str(w, q->u.sign.request_id);
		return;
	}
	switch (q->route) {
	case PROTO_SIGN:
		put_sign(w, &q->u.sign);
		break;
	case PROTO_TSA:
	case PROTO_STAMP:
		put_tsa(w, &q->u.tsa);
		break;
	case PROTO_LEDGER:
		put_lookup(w, &q->u.lookup);
		break;
	default:
		break;
	}
}

static void
get_req(struct wire_r *r, struct proto_req *q)
{
	q->route = (enum proto_route)wire_get_u16(r);
	q->refused = -(int)wire_get_u16(r);
	wire_get_str(r, q->why, sizeof(q->why));
	q->tsa_reject = wire_get_u8(r);
	q->tsa_fail = wire_get_u8(r);
	if (q->refused != 0) {
		if (q->route == PROTO_SIGN)
			wire_get_str(r, q->u.sign.request_id,
			    sizeof(q->u.sign.request_id));
		return;
	}
	switch (q->route) {
	case PROTO_SIGN:
		get_sign(r, &q->u.sign);
		return;
	case PROTO_TSA:
	case PROTO_STAMP:
		get_tsa(r, &q->u.tsa);
		return;
	case PROTO_LEDGER:
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
	    r == SD_ERR_METHOD || r == SD_ERR_TOO_LARGE ||
	    r == SD_ERR_SHUTDOWN || r == SD_ERR_MEDIA_TYPE;
}

static int
tsa_fail_ok(int f)
{
	return f == TSA_BAD_ALG || f == TSA_BAD_REQUEST ||
	    f == TSA_BAD_DATA_FORMAT || f == TSA_TIME_NOT_AVAILABLE ||
	    f == TSA_UNACCEPTED_POLICY || f == TSA_UNACCEPTED_EXTENSION ||
	    f == TSA_SYSTEM_FAILURE;
}

/* The rules of a decoded proto_req (see proto.h). */
static int
req_ok(const struct proto_req *q)
{
	const struct proto_lookup *l = &q->u.lookup;
	size_t n;

	if (q->route >= PROTO_NROUTES || !refusal_ok(q->refused) ||
	    !sd_utf8_valid(q->why, strlen(q->why)) ||
	    (q->refused == 0 && q->why[0] != '\0') ||
	    (q->tsa_reject != 0 &&
		(q->tsa_reject != 1 || q->route != PROTO_TSA ||
		    q->refused == 0 || !tsa_fail_ok(q->tsa_fail))) ||
	    (q->tsa_reject == 0 && q->tsa_fail != 0))
		return 0;
	if (q->refused != 0)
		return q->route != PROTO_SIGN ||
		    sd_utf8_valid(
			q->u.sign.request_id, strlen(q->u.sign.request_id));
	switch (q->route) {
	case PROTO_SIGN:
		return sign_req_check(&q->u.sign) == 0;
	case PROTO_TSA:
	case PROTO_STAMP:
		return tsa_req_check(&q->u.tsa) == 0;
	case PROTO_LEDGER:
		n = strlen(l->instance);
		return sd_name_valid(l->instance, n) &&
		    l->seq >= PROTO_SEQ_HEAD && l->after >= 0 &&
		    (l->seq != 0
			    ? l->after == 0 && l->limit == 0
			    : l->limit >= 1 && l->limit <= SD_LEDGER_PAGE_MAX);
	default:
		return 1;
	}
}

static const char *const ctypes[PROTO_NCTYPES] = {
	[PROTO_CT_JSON] = PROTO_JSON,
	[PROTO_CT_TSR] = PROTO_TSR,
	[PROTO_CT_METRICS] = METRICS_CTYPE,
};

const char *
proto_ctype_name(enum proto_ctype ct)
{
	return (unsigned int)ct < PROTO_NCTYPES ? ctypes[ct] : NULL;
}

int
proto_ctype_of(const char *name)
{
	int i;

	for (i = 0; i < PROTO_NCTYPES; i++)
		if (strcmp(name, ctypes[i]) == 0)
			return i;
	return -1;
}

/* PROTO_REPLY and PROTO_ADMIT: an id (the request's, the connection's),
 * then the answer's status, content type and body, at most max bytes. */
static int
put_answer(struct wire_w *w, uint64_t id, const struct proto_msg *m, size_t max)
{
	if (m->body_len > max)
		return -1;
	wire_u64(w, id);
	wire_u16(w, (uint16_t)m->status);
	wire_u8(w, (uint8_t)m->ctype);
	wire_bytes(w, m->body, m->body_len);
	return 0;
}

static uint64_t
get_answer(struct wire_r *r, struct proto_msg *m, size_t max)
{
	uint64_t id = wire_get_u64(r);

	m->status = wire_get_u16(r);
	m->ctype = (enum proto_ctype)wire_get_u8(r);
	m->body = wire_get_view(r, max, &m->body_len);
	return id;
}

int
proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct wire_w w;

	wire_begin(&w, buf, cap, (uint16_t)m->type);
	switch (m->type) {
	case PROTO_CONN:
		wire_u64(&w, m->conn);
		break;
	case PROTO_CLOSE:
		wire_u64(&w, m->conn);
		wire_u8(&w, (uint8_t)m->why);
		break;
	case PROTO_ADMIT:
		if (put_answer(&w, m->conn, m, PROTO_ADMIT_BODY_MAX) != 0)
			return SD_ERR_TOO_LARGE;
		break;
	case PROTO_BEGIN:
		wire_u64(&w, m->conn);
		wire_u64(&w, m->req);
		wire_u16(&w, (uint16_t)m->rq.route);
		break;
	case PROTO_GO:
		wire_u64(&w, m->req);
		break;
	case PROTO_REQ:
		wire_u64(&w, m->conn);
		wire_u64(&w, m->req);
		put_req(&w, &m->rq);
		break;
	case PROTO_REPLY:
		if (put_answer(&w, m->req, m, PROTO_BODY_MAX) != 0)
			return SD_ERR_TOO_LARGE;
		break;
	case PROTO_STOP:
	case PROTO_SERVING:
		break;
	default:
		return SD_ERR_BAD_REQUEST;
	}
	return wire_end(&w, len);
}

int
proto_decode(const uint8_t *buf, size_t len, enum proto_dir at, int has_fd,
    struct proto_msg *m)
{
	const struct proto_rule *rule;
	struct wire_r r;
	uint16_t type;
	int bad = 0;

	memset(m, 0, sizeof(*m));
	if (wire_open(&r, buf, len, PROTO_NTYPES, &type) != 0)
		return SD_ERR_BAD_REQUEST;
	m->type = (enum proto_type)type;
	rule = &proto_rules[type];
	if (rule->name == NULL || rule->dir != at || len < rule->min ||
	    len > rule->max || (has_fd != 0) != (rule->fd != 0))
		return SD_ERR_BAD_REQUEST;
	switch (m->type) {
	case PROTO_CONN:
		m->conn = wire_get_u64(&r);
		break;
	case PROTO_CLOSE:
		m->conn = wire_get_u64(&r);
		m->why = (enum proto_close_why)wire_get_u8(&r);
		bad = (unsigned int)m->why >= PROTO_NWHY;
		break;
	case PROTO_ADMIT:
		m->conn = get_answer(&r, m, PROTO_ADMIT_BODY_MAX);
		bad =
		    (m->status != 0 && (m->status < 400 || m->status > 599)) ||
		    (m->status == 0 && m->body_len != 0) ||
		    (unsigned int)m->ctype >= PROTO_NCTYPES;
		break;
	case PROTO_BEGIN:
		m->conn = wire_get_u64(&r);
		m->req = wire_get_u64(&r);
		m->rq.route = (enum proto_route)wire_get_u16(&r);
		bad = m->rq.route >= PROTO_NROUTES;
		break;
	case PROTO_GO:
		m->req = wire_get_u64(&r);
		break;
	case PROTO_REQ:
		m->conn = wire_get_u64(&r);
		m->req = wire_get_u64(&r);
		get_req(&r, &m->rq);
		break;
	case PROTO_REPLY:
		m->req = get_answer(&r, m, PROTO_BODY_MAX);
		bad = m->status < 100 || m->status > 599 ||
		    (unsigned int)m->ctype >= PROTO_NCTYPES;
		break;
	case PROTO_STOP:
	case PROTO_SERVING:
		break;
	default:
		return SD_ERR_BAD_REQUEST;
	}
	if (wire_close(&r) != 0 || bad ||
	    (m->type == PROTO_REQ && !req_ok(&m->rq)))
		return SD_ERR_BAD_REQUEST;
	return 0;
}
