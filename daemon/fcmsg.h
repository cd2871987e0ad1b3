/*
 * fcmsg: the messages between seald's front (HTTP, JSON, DER: every byte
 * a client sends) and its core (policy, HSM, ledger), over wire.h.  They
 * carry the calls of core.h, one message each:
 *
 *   FC_CONN   front -> core  u64 conn; the client's socket passed by
 *                            SCM_RIGHTS (core_conn_open)
 *   FC_CLOSE  front -> core  u64 conn (core_conn_close)
 *   FC_BEGIN  front -> core  u64 conn, u64 req, u16 route (core_begin)
 *   FC_GO     core -> front  u64 req: read the body (core_begin's NULL)
 *   FC_REQ    front -> core  u64 conn, u64 req, the struct core_req
 *                            (core_submit)
 *   FC_REPLY  core -> front  u64 req, u16 HTTP status, u8 content type
 *                            (enum fc_ctype), body
 *   FC_STOP   core -> front  stop taking work (front_drain)
 *
 * A core_req is: u16 route, u16 refusal (0, or minus an SD_ERR_ code the
 * front may refuse with), the message, u8 tsa_reject, u8 tsa_fail, and
 * then by route (unless refused): a sign request; a TimeStampReq's
 * fields (no hash: the core takes its own); a ledger lookup.  A refused
 * sign request carries its request_id only.
 *
 * The core trusts nothing in them: a decoded request must pass the rules
 * of the front's own decoders (sign_req_check, tsa_req_check, the
 * lookup's bounds), a refusal must be one the front can make, and who
 * asks is known only from the credentials of the socket passed in
 * FC_CONN.  What the core that uses them must check besides (a
 * compromised front could pass any socket, and name any connection):
 * that the fd passed is a connection accepted on seald's own service
 * socket (peer_accepted_on); that an fd comes with FC_CONN only; that a
 * conn id is new in FC_CONN and known in the others.
 */
#ifndef SD_FCMSG_H
#define SD_FCMSG_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "wire.h"

enum fc_type {
	FC_CONN = 1,
	FC_CLOSE,
	FC_BEGIN,
	FC_GO,
	FC_REQ,
	FC_REPLY,
	FC_STOP,
	FC_NTYPES
};

/* the content types of FC_REPLY */
enum fc_ctype { FC_CT_JSON, FC_CT_TSR, FC_CT_METRICS, FC_NCTYPES };
#define FC_BODY_MAX (WIRE_MSG_MAX - 1024)

struct fc_msg {
	enum fc_type type;
	uint64_t conn, req;
	struct core_req rq;  /* FC_BEGIN (route only), FC_REQ */
	unsigned int status; /* FC_REPLY: 100..599 */
	enum fc_ctype ctype; /* FC_REPLY */
	const uint8_t *body; /* FC_REPLY: in the decoded buffer */
	size_t body_len;
};

/* The content type of an fc_ctype (NULL for none), and back (-1 for a
 * content type the core does not answer with). */
const char *fc_ctype_name(enum fc_ctype ct);
int fc_ctype_of(const char *name);

/* Encode m into buf (cap bytes): 0 and the length, or SD_ERR_TOO_LARGE
 * (SD_ERR_BAD_REQUEST for a message that breaks the rules above). */
int fc_encode(const struct fc_msg *m, uint8_t *buf, size_t cap, size_t *len)
    __attribute__((warn_unused_result));

/* Decode the message buf[0..len) (as wire_recv returned it): 0, or
 * SD_ERR_BAD_REQUEST, after which the stream must end.  m->body points
 * into buf. */
int fc_decode(const uint8_t *buf, size_t len, struct fc_msg *m)
    __attribute__((warn_unused_result));

#endif
