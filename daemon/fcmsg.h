/*
 * fcmsg: the messages between seald's front (HTTP and JSON: every byte a
 * client sends) and its core (policy, HSM, ledger), over wire.h.
 *
 *   FC_CONN   front -> core  u64 conn; the client's socket passed by
 *                            SCM_RIGHTS, so that the core reads the peer's
 *                            credentials itself (then closes it)
 *   FC_SIGN   front -> core  u64 conn, u64 req, the decoded sign request
 *   FC_CLOSE  front -> core  u64 conn: the client went away
 *   FC_REPLY  core -> front  u64 req, u16 HTTP status, content type, body
 *
 * The core trusts nothing in them: a decoded request must pass the same
 * rules as the front's JSON decoder (sign_req_check), and who asks is
 * known only from the credentials of the socket passed in FC_CONN.  What
 * the core that uses them must check besides (a compromised front could
 * pass any socket, and name any connection): that the fd passed is a
 * stream socket accepted on seald's own service socket (getsockname
 * names its path) before it reads SO_PEERCRED; that an fd comes with
 * FC_CONN only; that a conn id is new in FC_CONN and known in FC_SIGN and
 * FC_CLOSE.
 */
#ifndef SD_FCMSG_H
#define SD_FCMSG_H

#include <stddef.h>
#include <stdint.h>

#include "sign_req.h"
#include "wire.h"

enum fc_type { FC_CONN = 1, FC_SIGN, FC_CLOSE, FC_REPLY, FC_NTYPES };

#define FC_CTYPE_MAX 64
#define FC_BODY_MAX (WIRE_MSG_MAX - 1024)

struct fc_msg {
	enum fc_type type;
	uint64_t conn, req;
	struct sign_req sign;     /* FC_SIGN */
	unsigned int status;      /* FC_REPLY: 100..599 */
	char ctype[FC_CTYPE_MAX]; /* FC_REPLY: printable, no spaces */
	const uint8_t *body;      /* FC_REPLY: in the decoded buffer */
	size_t body_len;
};

/* Encode m into buf (cap bytes): 0 and the length, or SD_ERR_TOO_LARGE. */
int fc_encode(const struct fc_msg *m, uint8_t *buf, size_t cap, size_t *len)
    __attribute__((warn_unused_result));

/* Decode the message buf[0..len) (as wire_recv returned it): 0, or
 * SD_ERR_BAD_REQUEST, after which the stream must end.  m->body points
 * into buf. */
int fc_decode(const uint8_t *buf, size_t len, struct fc_msg *m)
    __attribute__((warn_unused_result));

#endif
