/*
 * core_client: the front process's way to its core.  It implements the
 * calls of core.h (core_conn_open, core_conn_close, core_begin,
 * core_submit) over the socketpair to the core, with fcmsg.h's messages;
 * the front's code is the same whether the core is a library in its
 * process or another process.
 */
#ifndef SD_CORE_CLIENT_H
#define SD_CORE_CLIENT_H

#include "core.h"

/* The core at the other end of sock: a thread reads its answers, and
 * calls on_stop(arg) when the core says to stop taking work.  The front
 * exits when the core ends the channel.  NULL when out of memory. */
struct core *core_client_start(int sock, void (*on_stop)(void *), void *arg)
    __attribute__((warn_unused_result));

#endif
