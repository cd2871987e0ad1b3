/*
 * deadline: a connection's request must come whole in time.  Its head
 * (request line and headers) within head seconds of the connection's
 * opening or of the previous answer's end, its body within body seconds
 * of the head.  A thread of the front's own (a reaper) looks every
 * 100 ms; a connection past its time gets a 408 written on its socket,
 * which is then shut down (libmicrohttpd reads the end and closes it), so
 * that a caller that sends a byte now and then cannot hold a connection
 * for ever (the idle timeout would never fire).  While the core works on
 * a request, or an answer is being sent, no deadline runs: the core has
 * its own, and the idle timeout covers a caller that does not read.
 */
#ifndef SD_DEADLINE_H
#define SD_DEADLINE_H

#include <time.h>

#include "proto.h"

enum dl_phase { DL_NONE, DL_HEAD, DL_BODY };

/* A connection's deadline (a member of the front's connection). */
struct dl_conn {
	int fd;
	enum dl_phase phase;
	struct timespec due;
	enum proto_close_why late; /* PROTO_GONE until it came too late */
	struct dl_conn *prev, *next;
};

struct deadlines;

/* The reaper, with its thread.  NULL when out of memory or threads. */
struct deadlines *deadlines_start(unsigned int head_s, unsigned int body_s)
    __attribute__((warn_unused_result));

/* Track e (socket fd), its head due from now. */
void dl_track(struct deadlines *d, struct dl_conn *e, int fd);

/* From now: waiting for a head (DL_HEAD), a body (DL_BODY), or nothing. */
void dl_phase(struct deadlines *d, struct dl_conn *e, enum dl_phase p);

/* PROTO_HEAD_LATE or PROTO_BODY_LATE once e was answered 408 (nothing
 * more is to be done with it but close it); else PROTO_GONE. */
enum proto_close_why dl_late(struct deadlines *d, struct dl_conn *e);

/* Forget e (its connection closed). */
void dl_untrack(struct deadlines *d, struct dl_conn *e);

#endif
