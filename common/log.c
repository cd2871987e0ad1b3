/*
 * log: formats one line per message and writes it with a single write(2),
 * so lines of concurrent threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static volatile int max_level = LOG_LVL_INFO;

static const char *const names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level level)
{
	max_level = (int)level;
}

void
log_msg(enum log_level level, const char *func, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;
	size_t len, i;

	if ((int)level > max_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ seald[%d] %s %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000L, (int)getpid(), names[level],
	    func);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* One event, one line: control characters from any source (a
	 * client's field name, a library's message) cannot forge lines. */
	for (i = (size_t)n; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return; /* nowhere left to report it */
}

int
log_gate_pass(struct log_gate *g, long every_ms, unsigned long *missed)
{
	int pass;

	pthread_mutex_lock(&g->mu);
	pass = !g->said || sd_ms_since(&g->last) >= every_ms;
	if (pass) {
		*missed = g->missed;
		g->missed = 0;
		g->said = 1;
		clock_gettime(CLOCK_MONOTONIC, &g->last);
	} else {
		g->missed++;
	}
	pthread_mutex_unlock(&g->mu);
	return pass;
}
