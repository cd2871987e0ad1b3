/*
 * fcmsg: encoding and strict decoding of the front/core messages.
 */
#include <string.h>

#include "err.h"
#include "fcmsg.h"

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

/* a content type: printable ASCII without spaces, as in headers */
static int
ctype_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return i > 0;
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
	case FC_SIGN:
		wire_u64(&w, m->conn);
		wire_u64(&w, m->req);
		put_sign(&w, &m->sign);
		break;
	case FC_REPLY:
		if (m->body_len > FC_BODY_MAX)
			return SD_ERR_TOO_LARGE;
		wire_u64(&w, m->req);
		wire_u16(&w, (uint16_t)m->status);
		wire_str(&w, m->ctype);
		wire_bytes(&w, m->body, m->body_len);
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

	memset(m, 0, sizeof(*m));
	if (wire_open(&r, buf, len, FC_NTYPES, &type) != 0)
		return SD_ERR_BAD_REQUEST;
	m->type = (enum fc_type)type;
	switch (m->type) {
	case FC_CONN:
	case FC_CLOSE:
		m->conn = wire_get_u64(&r);
		break;
	case FC_SIGN:
		m->conn = wire_get_u64(&r);
		m->req = wire_get_u64(&r);
		get_sign(&r, &m->sign);
		break;
	case FC_REPLY:
		m->req = wire_get_u64(&r);
		m->status = wire_get_u16(&r);
		wire_get_str(&r, m->ctype, sizeof(m->ctype));
		m->body = wire_get_view(&r, FC_BODY_MAX, &m->body_len);
		break;
	default:
		return SD_ERR_BAD_REQUEST;
	}
	if (wire_close(&r) != 0 ||
	    (m->type == FC_SIGN && sign_req_check(&m->sign) != 0) ||
	    (m->type == FC_REPLY &&
		(m->status < 100 || m->status > 599 || !ctype_ok(m->ctype))))
		return SD_ERR_BAD_REQUEST;
	return 0;
}
