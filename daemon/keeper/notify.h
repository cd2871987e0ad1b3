/*
 * notify: the systemd notification protocol (sd_notify(3)), spoken
 * directly: a datagram to $NOTIFY_SOCKET.  READY=1 once the HSM, the
 * ledger and the policy are up, RELOADING=1 / READY=1 around a reload,
 * STOPPING=1 on the way out, WATCHDOG=1 every half $WATCHDOG_USEC from
 * the main loop.  Without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef SD_NOTIFY_H
#define SD_NOTIFY_H

/* Send state ("READY=1", ...); 0 sent or nothing to do, -1 failed. */
int notify(const char *state);

/* The watchdog interval in milliseconds to ping at (half of
 * $WATCHDOG_USEC, when it is meant for this process), or 0. */
long notify_watchdog_ms(void);

#endif
