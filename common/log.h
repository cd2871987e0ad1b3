/*
 * log: one line per event to stderr (the journal under systemd), with
 * level and function name.  Callers bound untrusted strings themselves
 * ("%.100s"); PINs, conninfo and key material are never passed here.
 */
#ifndef SD_LOG_H
#define SD_LOG_H

#include <pthread.h>
#include <time.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Messages above this level are dropped.  Default LOG_LVL_INFO. */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A recurring event (a limit that trips, a signal ignored) said at most
 * once per interval: log_gate_pass is 1 when a line may be written now,
 * with *missed the events since the last line that were not said.
 */
struct log_gate {
	pthread_mutex_t mu;
	struct timespec last;
	unsigned long missed;
	int said;
};
#define LOG_GATE_INIT                                     \
	{                                                 \
		PTHREAD_MUTEX_INITIALIZER, { 0, 0 }, 0, 0 \
	}
int log_gate_pass(struct log_gate *g, long every_ms, unsigned long *missed);

#define log_error(...) log_msg(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__)

#endif
