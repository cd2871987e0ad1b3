/*
 * core_chan: the core's end of the socketpair to a front process.  A
 * thread reads the front's messages (proto.h) and makes the calls of
 * core.h they carry; the replies go back over the same socket through a
 * queue and a sending thread of the channel's own, so that no thread that
 * answers (a worker, the ledger writer) waits on the front.  The queue is
 * bounded: an answer of 64 KiB or more that would take it over 32 MiB is
 * answered 503 (try again) instead, and over 64 MiB, or a message the
 * front has not read for 5 s, the front is not reading and its channel
 * ends.  A front
 * that breaks a rule of proto.h (a malformed message, an fd with anything
 * but PROTO_CONN, a socket not accepted on the service socket, a conn id
 * reused or unknown, more connections than it may have) loses its
 * channel: the core closes it, and a front whose channel closed exits.
 */
#ifndef SD_CORE_CHAN_H
#define SD_CORE_CHAN_H

#include "core.h"

struct core_chan;

/* Serve the front at the other end of sock (taken over) for at most
 * max_conns connections at once.  NULL when out of memory (sock is
 * closed). */
struct core_chan *core_chan_start(struct core *c, int sock,
    unsigned int max_conns) __attribute__((warn_unused_result));

/* Tell the front to stop taking work (PROTO_STOP).  NULL accepted. */
void core_chan_stop(struct core_chan *ch);

/* 1 once the channel ended (the front went away or broke a rule). */
int core_chan_ended(struct core_chan *ch);

/* End the channel and let go of it: its reading and sending threads are
 * joined (answers not sent yet are dropped); the rest is freed once the
 * last request of the front is answered.  NULL accepted. */
void core_chan_free(struct core_chan *ch);

#endif
