/*
 * proto: what seald's front (HTTP, JSON and DER: every byte a client
 * sends) and its core (policy, HSM, ledger) say to each other over their
 * socketpair (wire.h): a request decoded into a fixed-layout struct
 * proto_req, the core's struct proto_reply, and the messages that carry
 * them, one table of rules for all of them.
 *
 *   type          direction       fields
 *   PROTO_CONN    front -> core   u64 conn; the client's socket passed by
 *                                 SCM_RIGHTS, as it is accepted
 *                                 (core_conn_open, core_admit)
 *   PROTO_ADMIT   core -> front   u64 conn, u16 status (0: admitted; else
 *                                 the HTTP status of the refusal), u8
 *                                 content type, body (the refusal)
 *   PROTO_CLOSE   front -> core   u64 conn, u8 why (enum proto_close_why:
 *                                 core_conn_close)
 *   PROTO_BEGIN   front -> core   u64 conn, u64 req, u16 route (core_begin)
 *   PROTO_GO      core -> front   u64 req: read the body (core_begin's NULL)
 *   PROTO_REQ     front -> core   u64 conn, u64 req, the struct proto_req
 *                                 (core_submit)
 *   PROTO_REPLY   core -> front   u64 req, u16 HTTP status, u8 content type
 *                                 (enum proto_ctype), body
 *   PROTO_STOP    core -> front   stop taking work (front_drain); once
 *   PROTO_SERVING front -> core   the front is under its filter and
 *                                 accepts clients (core_front_serving);
 *                                 once
 *
 * A proto_req is: u16 route, u16 refusal (0, or minus an SD_ERR_ code the
 * front may refuse with), the message, u8 tsa_reject, u8 tsa_fail, and
 * then by route (unless refused): a sign request; a TimeStampReq's
 * fields (no hash: the core takes its own); a ledger lookup.  A refused
 * sign request carries its request_id only.
 *
 * Each side trusts nothing in them.  proto_decode applies proto_rules (the
 * direction, the size bounds, whether a socket may come with it) and
 * the rules of the front's own decoders to a request (sign_req_check,
 * tsa_req_check, the lookup's bounds); a refusal must be one the front
 * can make.  Each receiving side keeps its handlers in a table by type
 * (core/core_chan.c, front/corelink.c), and a message that neither the
 * rules nor that table permit ends the channel.  What the core must check
 * besides (a compromised front could pass any socket, and name any
 * connection): that the socket passed is a connection accepted on
 * seald's own service socket (peer_accepted_on); that a conn id is new in
 * PROTO_CONN and known in the others.
 */
#ifndef SD_PROTO_H
#define SD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "sign_req.h"
#include "tsa_req.h"
#include "wire.h"

/* The service socket's endpoints. */
enum proto_route {
	PROTO_NONE,    /* no such path */
	PROTO_HEALTHZ, /* GET /healthz: any caller */
	PROTO_READYZ,  /* GET /readyz: any caller */
	PROTO_SIGN,    /* POST /v1/sign */
	PROTO_KEYS,    /* GET /v1/keys */
	PROTO_LEDGER,  /* GET /v1/ledger/INSTANCE[/SEQ] */
	PROTO_TSA,     /* POST /v1/tsa: RFC 3161 in DER */
	PROTO_STAMP,   /* POST /v1/timestamp: the same in JSON */
	PROTO_METRICS, /* GET /metrics */
	PROTO_NROUTES
};

/* The endpoint's name in logs and metrics ("sign", "health", ...; "other"
 * for PROTO_NONE and anything out of range). */
const char *proto_route_name(enum proto_route r);

#define PROTO_WHY_MAX 200

/* GET /v1/ledger: one entry (seq > 0), a page (seq 0), or the signed
 * head (seq PROTO_SEQ_HEAD). */
#define PROTO_SEQ_HEAD (-1)
struct proto_lookup {
	char instance[SD_NAME_MAX];
	int64_t seq;
	int64_t after;
	uint32_t limit; /* 1..SD_LEDGER_PAGE_MAX */
};

struct proto_req {
	enum proto_route route;
	/*
	 * Nonzero: the front refused the request with this SD_ERR_ code
	 * (why: the message for the client), and nothing below is decoded,
	 * but for sign.request_id, which the front fills when it could read
	 * it.  SD_ERR_METHOD keeps the route.
	 */
	int refused;
	char why[PROTO_WHY_MAX];
	/* PROTO_TSA refused for its DER: answered with a TimeStampResp that
	 * rejects it with the PKIFailureInfo bit tsa_fail (enum tsa_fail),
	 * where other refusals get a JSON error */
	int tsa_reject;
	int tsa_fail;
	union {
		struct sign_req sign;       /* PROTO_SIGN */
		struct tsa_req tsa;         /* PROTO_TSA, PROTO_STAMP */
		struct proto_lookup lookup; /* PROTO_LEDGER */
	} u;
};

/* the content types of the core's replies (and METRICS_CTYPE) */
#define PROTO_JSON "application/json"
#define PROTO_TSR "application/timestamp-reply"
enum proto_ctype {
	PROTO_CT_JSON,
	PROTO_CT_TSR,
	PROTO_CT_METRICS,
	PROTO_NCTYPES
};

/* The content type's name (NULL for none), and back (-1 for a content
 * type the core does not answer with). */
const char *proto_ctype_name(enum proto_ctype ct);
int proto_ctype_of(const char *name);

struct proto_reply {
	unsigned int status; /* HTTP */
	const char *ctype;   /* Content-Type: a proto_ctype_name */
	/* malloc'd, taken over by whoever receives the reply; NULL when
	 * out of memory (the front then closes the connection) */
	void *body;
	size_t len;
};

/*
 * Called once per request with its reply: before the call that made the
 * request returns (an answer from memory) or later from another thread
 * (a signature, a ledger read).  It must not block.
 */
typedef void proto_done_fn(void *arg, struct proto_reply *reply);

enum proto_type {
	PROTO_CONN = 1,
	PROTO_CLOSE,
	PROTO_BEGIN,
	PROTO_GO,
	PROTO_REQ,
	PROTO_REPLY,
	PROTO_STOP,
	PROTO_ADMIT,
	PROTO_SERVING,
	PROTO_NTYPES
};

/* Why a connection ended (PROTO_CLOSE). */
enum proto_close_why {
	PROTO_GONE,      /* closed by either side, as connections end */
	PROTO_HEAD_LATE, /* its request head did not come whole in time: 408 */
	PROTO_BODY_LATE, /* its request body did not come whole in time: 408 */
	PROTO_NWHY
};

/* the most a refusal's body (PROTO_ADMIT) may be */
#define PROTO_ADMIT_BODY_MAX 1024

/* who receives a message */
enum proto_dir { PROTO_TO_CORE, PROTO_TO_FRONT };

/* A message type's rules: its whole length (header included) lies in
 * [min, max]; fd: a socket comes with it (and with no other type); once:
 * it may come once on a channel. */
struct proto_rule {
	const char *name;
	enum proto_dir dir;
	size_t min, max;
	int fd;
	int once;
};

/* By type; row 0 is none. */
extern const struct proto_rule proto_rules[PROTO_NTYPES];

/* The largest message a side receives: its read buffer. */
#define PROTO_TO_CORE_MAX ((size_t)64 * 1024)
#define PROTO_TO_FRONT_MAX ((size_t)WIRE_MSG_MAX)
#define PROTO_BODY_MAX (WIRE_MSG_MAX - 1024)

struct proto_msg {
	enum proto_type type;
	uint64_t conn, req;
	struct proto_req rq;    /* PROTO_BEGIN (route only), PROTO_REQ */
	unsigned int status;    /* PROTO_REPLY: 100..599; PROTO_ADMIT: 0 or
				 * 400..599 */
	enum proto_ctype ctype; /* PROTO_REPLY, PROTO_ADMIT */
	const uint8_t *body;    /* PROTO_REPLY, PROTO_ADMIT: in the decoded
				 * buffer */
	size_t body_len;
	enum proto_close_why why; /* PROTO_CLOSE */
};

/* Encode m into buf (cap bytes): 0 and the length, or SD_ERR_TOO_LARGE
 * (SD_ERR_BAD_REQUEST for a message that breaks the rules above). */
int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap,
    size_t *len) __attribute__((warn_unused_result));

/*
 * Decode the message buf[0..len) (as wire_in_next returned it), received
 * by `at`, with a socket (has_fd) or without: 0, or SD_ERR_BAD_REQUEST
 * (a message proto_rules do not permit there, or that breaks the rules
 * above), after which the channel must end.  m->body points into buf.
 */
int proto_decode(const uint8_t *buf, size_t len, enum proto_dir at, int has_fd,
    struct proto_msg *m) __attribute__((warn_unused_result));

#endif
