/*
 * test_wire: the front/core messages (each call of core.h: every route,
 * refusals, the go-on, the reply, the stop) round-trip byte for byte;
 * every kind of malformed message (short, long, trailing bytes, unknown
 * type, reserved bits, over-long or NUL-holding strings, a request the
 * front's decoders would refuse, a refusal no front makes from bytes,
 * a lookup out of bounds) fails.  Over a socket: test_wire_io.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/obj_mac.h>

#include "err.h"
#include "proto.h"
#include "metrics.h"
#include "wire.h"

static uint8_t buf[1 << 16];

static struct proto_msg
sign_msg(void)
{
	struct proto_msg m;

	struct sign_req *r = &m.rq.u.sign;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_REQ;
	m.conn = 7;
	m.req = 0x0102030405060708ULL;
	m.rq.route = PROTO_SIGN;
	snprintf(r->key, sizeof(r->key), "%s", "demo-ec");
	r->digest_alg = SIGN_SHA256;
	memset(r->digest, 0xab, 32);
	r->digest_len = 32;
	snprintf(r->format, sizeof(r->format), "%s", "cms");
	snprintf(r->request_id, sizeof(r->request_id), "%s", "req-1");
	snprintf(
	    r->evidence_type, sizeof(r->evidence_type), "%s", "submission");
	snprintf(r->evidence_ref, sizeof(r->evidence_ref), "%s", "msg 42");
	return m;
}

static size_t
encode(const struct proto_msg *m)
{
	size_t len;

	assert_int_equal(proto_encode(m, buf, sizeof(buf), &len), 0);
	return len;
}

/* Keep the message as a fuzzing seed: in $WIRE_SEEDS, when set (how
 * tests/fuzz/corpus/fuzz_wire was made). */
static void
keep_seed(const uint8_t *p, size_t len)
{
	static int n;
	const char *dir = getenv("WIRE_SEEDS");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/msg-%02d", dir, n++);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Decode as the side that receives the message's type does, with a
 * socket where its rule says one comes (the header's type: bytes 4-5). */
static int
received(const uint8_t *b, size_t len, struct proto_msg *m)
{
	unsigned int type =
	    len >= WIRE_HDR ? (unsigned int)b[4] << 8 | b[5] : 0;
	const struct proto_rule *r =
	    type < PROTO_NTYPES ? &proto_rules[type] : &proto_rules[0];

	return proto_decode(b, len, r->dir, r->fd, m);
}

/* m decodes, and encodes back to the very same bytes. */
static void
round_trip(const struct proto_msg *m, struct proto_msg *d)
{
	uint8_t again[sizeof(buf)];
	size_t len = encode(m), len2;

	keep_seed(buf, len);
	assert_int_equal(received(buf, len, d), 0);
	assert_int_equal(d->type, m->type);
	assert_int_equal(proto_encode(d, again, sizeof(again), &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
}

static void
test_reply_round_trip(void **state)
{
	static const char body[] = "{\"signature\":\"...\"}";
	struct proto_msg m, d;
	size_t len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_REPLY;
	m.req = 9;
	m.status = 200;
	m.ctype = PROTO_CT_JSON;
	m.body = (const uint8_t *)body;
	m.body_len = sizeof(body) - 1;
	round_trip(&m, &d);
	assert_int_equal(d.status, 200);
	assert_int_equal(d.ctype, PROTO_CT_JSON);
	assert_string_equal(proto_ctype_name(d.ctype), "application/json");
	assert_int_equal(proto_ctype_of(METRICS_CTYPE), PROTO_CT_METRICS);
	assert_int_equal(proto_ctype_of("text/html"), -1);
	assert_int_equal(d.body_len, m.body_len);
	assert_memory_equal(d.body, body, m.body_len);
	/* a status out of HTTP's range, an unknown content type */
	m.status = 600;
	len = encode(&m);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	m.status = 200;
	m.ctype = PROTO_NCTYPES;
	len = encode(&m);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
}

/* A time-stamp request as the front decodes it. */
static struct proto_msg
tsa_msg(void)
{
	struct proto_msg m;
	enum tsa_fail fail;
	uint8_t dg[32], *der = NULL;
	size_t len = 0;
	char msg[200];

	memset(&m, 0, sizeof(m));
	memset(dg, 0x11, sizeof(dg));
	m.type = PROTO_REQ;
	m.conn = 3;
	m.req = 4;
	m.rq.route = PROTO_TSA;
	assert_int_equal(tsa_req_build(NID_sha256, dg, sizeof(dg), "1.2.3",
			     0x42, 1, &der, &len),
	    0);
	assert_int_equal(
	    tsa_req_decode(der, len, &m.rq.u.tsa, &fail, msg, sizeof(msg)), 0);
	OPENSSL_free(der);
	return m;
}

/* Every call of core.h as a message: each route, refusals, the rest. */
static void
test_every_message_round_trips(void **state)
{
	struct proto_msg m, d;

	(void)state;
	m = sign_msg();
	round_trip(&m, &d);
	assert_true(d.conn == 7 && d.req == m.req);
	assert_memory_equal(&d.rq.u.sign, &m.rq.u.sign, sizeof(m.rq.u.sign));
	m = tsa_msg();
	round_trip(&m, &d);
	/* all but the hash: not sent, the core takes it itself */
	assert_memory_not_equal(d.rq.u.tsa.hash, m.rq.u.tsa.hash, SD_HASH_LEN);
	memset(m.rq.u.tsa.hash, 0, sizeof(m.rq.u.tsa.hash));
	assert_memory_equal(&d.rq.u.tsa, &m.rq.u.tsa, sizeof(m.rq.u.tsa));
	m.rq.route = PROTO_STAMP;
	round_trip(&m, &d);

	memset(&m, 0, sizeof(m));
	m.type = PROTO_REQ;
	m.rq.route = PROTO_LEDGER; /* one entry, then a page */
	snprintf(m.rq.u.lookup.instance, SD_NAME_MAX, "%s", "inst-1");
	m.rq.u.lookup.seq = 12;
	round_trip(&m, &d);
	assert_int_equal(d.rq.u.lookup.seq, 12);
	m.rq.u.lookup.seq = 0;
	m.rq.u.lookup.after = 7;
	m.rq.u.lookup.limit = 100;
	round_trip(&m, &d);
	assert_int_equal(d.rq.u.lookup.limit, 100);

	memset(&m, 0, sizeof(m));
	m.type = PROTO_REQ;
	for (m.rq.route = PROTO_NONE; m.rq.route < PROTO_NROUTES; m.rq.route++)
		if (m.rq.route == PROTO_HEALTHZ || m.rq.route == PROTO_KEYS ||
		    m.rq.route == PROTO_READYZ || m.rq.route == PROTO_METRICS)
			round_trip(&m, &d);

	m = sign_msg(); /* refused: the request_id only */
	m.rq.refused = SD_ERR_BAD_REQUEST;
	snprintf(m.rq.why, sizeof(m.rq.why), "%s", "field \"digest\": bad");
	round_trip(&m, &d);
	assert_string_equal(d.rq.u.sign.request_id, "req-1");
	assert_string_equal(d.rq.u.sign.key, "");
	assert_string_equal(d.rq.why, m.rq.why);

	memset(&m, 0, sizeof(m)); /* a DER the front could not decode */
	m.type = PROTO_REQ;
	m.rq.route = PROTO_TSA;
	m.rq.refused = SD_ERR_BAD_REQUEST;
	m.rq.tsa_reject = 1;
	m.rq.tsa_fail = TSA_BAD_DATA_FORMAT;
	round_trip(&m, &d);
	assert_int_equal(d.rq.tsa_fail, TSA_BAD_DATA_FORMAT);

	memset(&m, 0, sizeof(m));
	m.type = PROTO_BEGIN;
	m.conn = 5;
	m.req = 6;
	m.rq.route = PROTO_SIGN;
	round_trip(&m, &d);
	assert_true(d.conn == 5 && d.req == 6 && d.rq.route == PROTO_SIGN);
	m.type = PROTO_GO;
	round_trip(&m, &d);
	assert_true(d.req == 6);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_STOP;
	round_trip(&m, &d);
}

/* m must encode and fail to decode. */
static void
refused_msg(const struct proto_msg *m)
{
	struct proto_msg d;
	size_t len;

	assert_int_equal(proto_encode(m, buf, sizeof(buf), &len), 0);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
}

/* What a compromised front could send, and the core must not take. */
static void
test_request_rules(void **state)
{
	struct proto_msg m;

	(void)state;
	m = sign_msg(); /* a refusal no front can make from bytes */
	m.rq.refused = SD_ERR_LEDGER;
	refused_msg(&m);
	m = sign_msg(); /* a message without a refusal */
	snprintf(m.rq.why, sizeof(m.rq.why), "%s", "x");
	refused_msg(&m);
	m = sign_msg(); /* a message that is not UTF-8 */
	m.rq.refused = SD_ERR_BAD_REQUEST;
	snprintf(m.rq.why, sizeof(m.rq.why), "%s", "\xc3(");
	refused_msg(&m);
	m = sign_msg(); /* a TSA rejection on another route */
	m.rq.refused = SD_ERR_BAD_REQUEST;
	m.rq.tsa_reject = 1;
	refused_msg(&m);
	m = tsa_msg(); /* a failure bit without a rejection */
	m.rq.tsa_fail = TSA_BAD_ALG + 1;
	refused_msg(&m);
	m = tsa_msg(); /* an unknown failure bit */
	m.rq.refused = SD_ERR_BAD_REQUEST;
	m.rq.tsa_reject = 1;
	m.rq.tsa_fail = 3;
	refused_msg(&m);
	m = tsa_msg(); /* a digest that is not the imprint's */
	m.rq.u.tsa.digest[0] ^= 1;
	refused_msg(&m);
	m = sign_msg(); /* no such route */
	m.rq.route = PROTO_NROUTES;
	refused_msg(&m);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_BEGIN;
	m.rq.route = PROTO_NROUTES;
	refused_msg(&m);

	memset(&m, 0, sizeof(m)); /* lookups out of bounds */
	m.type = PROTO_REQ;
	m.rq.route = PROTO_LEDGER;
	snprintf(m.rq.u.lookup.instance, SD_NAME_MAX, "%s", "inst-1");
	m.rq.u.lookup.limit = 0; /* a page of nothing */
	refused_msg(&m);
	m.rq.u.lookup.limit = SD_LEDGER_PAGE_MAX + 1;
	refused_msg(&m);
	m.rq.u.lookup.limit = 1;
	m.rq.u.lookup.after = -1;
	refused_msg(&m);
	m.rq.u.lookup.after = 0;
	m.rq.u.lookup.seq = 3; /* one entry, with a page's limit */
	refused_msg(&m);
	m.rq.u.lookup.limit = 0;
	snprintf(m.rq.u.lookup.instance, SD_NAME_MAX, "%s", "../x");
	refused_msg(&m);
}

static void
test_every_prefix_and_extension_fails(void **state)
{
	struct proto_msg m = sign_msg(), d;
	size_t len = encode(&m), n;

	(void)state;
	for (n = 0; n < len; n++)
		assert_int_equal(received(buf, n, &d), SD_ERR_BAD_REQUEST);
	/* trailing bytes, with the header's length saying so */
	buf[len] = 0;
	buf[3] = (uint8_t)(len + 1);
	assert_int_equal(received(buf, len + 1, &d), SD_ERR_BAD_REQUEST);
	/* the header's length not the message's */
	buf[3] = (uint8_t)(len - 1);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
}

static void
test_header_rules(void **state)
{
	struct proto_msg m = sign_msg(), d;
	size_t len = encode(&m);

	(void)state;
	buf[7] = 1; /* reserved */
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[7] = 0;
	buf[5] = PROTO_NTYPES; /* unknown type */
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[5] = 0;
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[5] = PROTO_CLOSE; /* a valid type whose fields do not match */
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[0] = 0x80; /* over WIRE_MSG_MAX */
	assert_int_equal(wire_length(buf), 0);
}

/* sign_msg() with another key, written field by field as a front could:
 * the key is not bounded by struct sign_req */
static size_t
encode_with_key(const char *key)
{
	struct proto_msg m = sign_msg();
	struct wire_w w;
	size_t len;

	const struct sign_req *r = &m.rq.u.sign;

	wire_begin(&w, buf, sizeof(buf), PROTO_REQ);
	wire_u64(&w, m.conn);
	wire_u64(&w, m.req);
	wire_u16(&w, PROTO_SIGN);
	wire_u16(&w, 0); /* not refused */
	wire_str(&w, "");
	wire_u8(&w, 0);
	wire_u8(&w, 0);
	wire_str(&w, key);
	wire_u8(&w, (uint8_t)r->digest_alg);
	wire_bytes(&w, r->digest, r->digest_len);
	wire_str(&w, r->format);
	wire_str(&w, r->request_id);
	wire_str(&w, r->evidence_type);
	wire_str(&w, r->evidence_ref);
	assert_int_equal(wire_end(&w, &len), 0);
	return len;
}

static void
test_strings_and_rules(void **state)
{
	struct proto_msg m, d;
	size_t len;
	uint8_t *p;

	(void)state;
	/* a NUL inside the key: its bytes are "demo-ec", one is made 0 */
	m = sign_msg();
	len = encode(&m);
	p = memmem(buf, len, "demo-ec", 7);
	assert_non_null(p);
	p[2] = '\0';
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	/* a digest of the wrong length for its algorithm */
	m = sign_msg();
	m.rq.u.sign.digest_len = 48;
	len = encode(&m);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	/* what the JSON decoder refuses: a space in request_id, a format */
	m = sign_msg();
	snprintf(m.rq.u.sign.request_id, sizeof(m.rq.u.sign.request_id), "%s",
	    "req 1");
	len = encode(&m);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	m = sign_msg();
	snprintf(m.rq.u.sign.format, sizeof(m.rq.u.sign.format), "%s", "pem");
	len = encode(&m);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	m = sign_msg();
	m.rq.u.sign.evidence_type[0] = '\0'; /* a ref without a type */
	len = encode(&m);
	assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
	/* a key of 64 bytes, one more than the core's field holds, in an
	 * otherwise valid message; 63 bytes decode */
	{
		char longkey[65];

		memset(longkey, 'k', 64);
		longkey[64] = '\0';
		len = encode_with_key(longkey);
		assert_int_equal(received(buf, len, &d), SD_ERR_BAD_REQUEST);
		longkey[63] = '\0';
		len = encode_with_key(longkey);
		assert_int_equal(received(buf, len, &d), 0);
		assert_string_equal(d.rq.u.sign.key, longkey);
	}
}

/* proto_rules: a message comes only to the side it is for, with a socket
 * only where its type takes one, and within its type's size bounds. */
static void
test_direction_and_socket_rules(void **state)
{
	struct proto_msg m = sign_msg(), d;
	size_t len;
	int t;

	(void)state;
	/* a request decodes at the core, not at the front; with a socket
	 * nowhere */
	len = encode(&m);
	assert_int_equal(proto_decode(buf, len, PROTO_TO_CORE, 0, &d), 0);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_FRONT, 0, &d), SD_ERR_BAD_REQUEST);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_CORE, 1, &d), SD_ERR_BAD_REQUEST);
	/* PROTO_CONN only with its socket */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_CONN;
	m.conn = 7;
	len = encode(&m);
	assert_int_equal(proto_decode(buf, len, PROTO_TO_CORE, 1, &d), 0);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_CORE, 0, &d), SD_ERR_BAD_REQUEST);
	/* the core's messages decode at the front only */
	m.type = PROTO_GO;
	m.req = 3;
	len = encode(&m);
	assert_int_equal(proto_decode(buf, len, PROTO_TO_FRONT, 0, &d), 0);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_CORE, 0, &d), SD_ERR_BAD_REQUEST);
	/* every type has a rule, each for one side; a socket with one only */
	for (t = 1; t < PROTO_NTYPES; t++) {
		assert_non_null(proto_rules[t].name);
		assert_true(proto_rules[t].min >= WIRE_HDR);
		assert_true(proto_rules[t].min <= proto_rules[t].max);
		assert_int_equal(proto_rules[t].fd, t == PROTO_CONN);
	}
	assert_null(proto_rules[0].name);
	/* a message longer than its type's bound is refused before its
	 * fields are read (a PROTO_CLOSE of 24 bytes: the u64 and more) */
	m.type = PROTO_CLOSE;
	m.conn = 1;
	len = encode(&m);
	assert_int_equal(len, proto_rules[PROTO_CLOSE].max);
	memset(buf + len, 0, 8);
	buf[3] = (uint8_t)(len + 8);
	assert_int_equal(proto_decode(buf, len + 8, PROTO_TO_CORE, 0, &d),
	    SD_ERR_BAD_REQUEST);
}

/* What the core says of a connection as it comes, why a connection ended,
 * and the front's word that it serves. */
static void
test_admission_messages(void **state)
{
	static const uint8_t refusal[] = "{\"error\":{}}";
	struct proto_msg m, d;
	size_t len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_ADMIT;
	m.conn = 9;
	len = encode(&m); /* admitted */
	assert_int_equal(proto_decode(buf, len, PROTO_TO_FRONT, 0, &d), 0);
	assert_int_equal(d.conn, 9);
	assert_int_equal(d.status, 0);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_CORE, 0, &d), SD_ERR_BAD_REQUEST);
	m.status = 401; /* refused, with the answer */
	m.body = refusal;
	m.body_len = sizeof(refusal) - 1;
	len = encode(&m);
	assert_int_equal(proto_decode(buf, len, PROTO_TO_FRONT, 0, &d), 0);
	assert_int_equal(d.status, 401);
	assert_int_equal(d.body_len, sizeof(refusal) - 1);
	m.status = 200; /* a refusal is an error status */
	len = encode(&m);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_FRONT, 0, &d), SD_ERR_BAD_REQUEST);
	m.status = 0; /* admitted with a body */
	len = encode(&m);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_FRONT, 0, &d), SD_ERR_BAD_REQUEST);
	m.status = 503; /* a body over the bound */
	m.body_len = PROTO_ADMIT_BODY_MAX + 1;
	assert_int_equal(
	    proto_encode(&m, buf, sizeof(buf), &len), SD_ERR_TOO_LARGE);
	/* PROTO_CLOSE says why, within the reasons there are */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_CLOSE;
	m.conn = 4;
	m.why = PROTO_BODY_LATE;
	len = encode(&m);
	assert_int_equal(proto_decode(buf, len, PROTO_TO_CORE, 0, &d), 0);
	assert_int_equal(d.why, PROTO_BODY_LATE);
	buf[len - 1] = PROTO_NWHY;
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_CORE, 0, &d), SD_ERR_BAD_REQUEST);
	/* PROTO_SERVING: from the front, once, nothing in it */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_SERVING;
	len = encode(&m);
	assert_int_equal(len, WIRE_HDR);
	assert_int_equal(proto_decode(buf, len, PROTO_TO_CORE, 0, &d), 0);
	assert_int_equal(
	    proto_decode(buf, len, PROTO_TO_FRONT, 0, &d), SD_ERR_BAD_REQUEST);
	assert_true(proto_rules[PROTO_SERVING].once);
}

static void
test_writer_overflow(void **state)
{
	struct proto_msg m = sign_msg();
	size_t len;

	(void)state;
	assert_int_equal(proto_encode(&m, buf, 20, &len), SD_ERR_TOO_LARGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_round_trips),
		cmocka_unit_test(test_request_rules),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_every_prefix_and_extension_fails),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_strings_and_rules),
		cmocka_unit_test(test_direction_and_socket_rules),
		cmocka_unit_test(test_admission_messages),
		cmocka_unit_test(test_writer_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
