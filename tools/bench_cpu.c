/*
 * bench_cpu: the machine's CPU time by part (bench_cpu.h).  /proc/stat
 * gives the machine's busy, steal and idle time; /proc/PID/stat each
 * process's user and system time (its threads included), and its parent,
 * by which a process is put in seald's or PostgreSQL's part.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_cpu.h"

#define PROCS_MAX 65536 /* processes looked at in one snapshot */
#define DEPTH_MAX 64    /* parents followed from one process */

const char *const cpu_part_name[CPU_NPARTS] = { "core", "front", "postgres",
	"load", "other", "steal", "idle" };

struct proc {
	long pid, ppid;
	unsigned long long ticks;
	int front;
};

/* The next n decimal fields of s into v (a minus sign is taken as 0):
 * 0, or -1 when there are fewer. */
static int
fields(const char *s, unsigned long long *v, size_t n)
{
	char *end;
	size_t i;

	for (i = 0; i < n; i++) {
		while (*s == ' ')
			s++;
		if (*s == '-') /* tty_nr, tpgid: not wanted */
			s++;
		errno = 0;
		v[i] = strtoull(s, &end, 10);
		if (end == s || errno != 0)
			return -1;
		s = end;
	}
	return 0;
}

/* One process's /proc/PID/stat: 0, or -1 (gone, or not a process). */
static int
read_proc(const char *name, struct proc *p)
{
	char path[64], buf[1024], *open, *close;
	unsigned long long v[12];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", name);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime: comm may hold spaces and parentheses */
	if ((open = strchr(buf, '(')) == NULL ||
	    (close = strrchr(buf, ')')) == NULL || close < open ||
	    close[1] != ' ' || close[2] == '\0')
		return -1;
	*close = '\0';
	p->pid = strtol(buf, NULL, 10);
	p->front = strcmp(open + 1, "seald-front") == 0;
	if (fields(close + 3, v, 12) != 0) /* from ppid to stime */
		return -1;
	p->ppid = (long)v[0];
	p->ticks = v[10] + v[11];
	return 0;
}

static const struct proc *
find(const struct proc *ps, size_t n, long pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ps[i].pid == pid)
			return &ps[i];
	return NULL;
}

/* Whether p is root or descends from it. */
static int
under(const struct proc *ps, size_t n, const struct proc *p, long root)
{
	int d;

	if (root <= 0)
		return 0;
	for (d = 0; p != NULL && d < DEPTH_MAX; d++) {
		if (p->pid == root)
			return 1;
		if (p->ppid <= 1)
			return 0;
		p = find(ps, n, p->ppid);
	}
	return 0;
}

/* busy, steal and idle ticks of all cores from /proc/stat */
static int
machine(unsigned long long *busy, unsigned long long *steal,
    unsigned long long *idle)
{
	unsigned long long v[8];
	char line[512];
	FILE *f;
	int ok;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return -1;
	/* cpu user nice system idle iowait irq softirq steal (guest time is
	 * in user already) */
	ok = fgets(line, sizeof(line), f) != NULL &&
	    strncmp(line, "cpu ", 4) == 0 && fields(line + 4, v, 8) == 0;
	fclose(f);
	if (!ok)
		return -1;
	*busy = v[0] + v[1] + v[2] + v[5] + v[6];
	*idle = v[3] + v[4];
	*steal = v[7];
	return 0;
}

int
cpu_take(struct cpu_snap *s, long seald, long pg)
{
	struct proc *ps;
	struct dirent *de;
	unsigned long long busy, mine = 0;
	size_t n = 0, i;
	long self = (long)getpid();
	DIR *d;
	int part;

	memset(s, 0, sizeof(*s));
	if ((ps = malloc(PROCS_MAX * sizeof(*ps))) == NULL)
		return -1;
	if ((d = opendir("/proc")) == NULL) {
		free(ps);
		return -1;
	}
	while (n < PROCS_MAX && (de = readdir(d)) != NULL)
		if (isdigit((unsigned char)de->d_name[0]) &&
		    read_proc(de->d_name, &ps[n]) == 0)
			n++;
	closedir(d);
	for (i = 0; i < n; i++) {
		if (ps[i].pid == self)
			part = CPU_SELF;
		else if (under(ps, n, &ps[i], seald))
			part = ps[i].front ? CPU_FRONT : CPU_CORE;
		else if (under(ps, n, &ps[i], pg))
			part = CPU_PG;
		else
			continue;
		s->t[part] += ps[i].ticks;
		mine += ps[i].ticks;
	}
	free(ps);
	if (machine(&busy, &s->t[CPU_STEAL], &s->t[CPU_IDLE]) != 0)
		return -1;
	/* processes' ticks and the machine's are sampled apart: "other" is
	 * what is left, and never below nothing */
	s->t[CPU_OTHER] = busy > mine ? busy - mine : 0;
	s->ok = 1;
	return 0;
}

void
cpu_add(struct cpu_snap *d, const struct cpu_snap *a, const struct cpu_snap *b)
{
	int i;

	for (i = 0; i < CPU_NPARTS && a->ok && b->ok; i++)
		d->t[i] += b->t[i] >= a->t[i] ? b->t[i] - a->t[i] : 0;
}

void
cpu_per(const struct cpu_snap *d, uint64_t n, double us[CPU_NPARTS + 1])
{
	double tick = 1e6 / (double)sysconf(_SC_CLK_TCK);
	int i;

	us[CPU_NPARTS] = 0;
	for (i = 0; i < CPU_NPARTS; i++) {
		us[i] = n > 0 ? (double)d->t[i] * tick / (double)n : 0;
		us[CPU_NPARTS] += us[i];
	}
}

void
cpu_print_head(FILE *f)
{
	int i;

	fprintf(f, "%-24s", "CPU us a request");
	for (i = 0; i < CPU_NPARTS; i++)
		fprintf(f, " %8s", cpu_part_name[i]);
	fprintf(f, " %8s\n", "all");
}

void
cpu_print(FILE *f, const char *what, const double us[CPU_NPARTS + 1])
{
	int i;

	fprintf(f, "%-24s", what);
	for (i = 0; i <= CPU_NPARTS; i++)
		fprintf(f, " %8.1f", us[i]);
	fprintf(f, "\n");
}

void
cpu_json(FILE *f, const double us[CPU_NPARTS + 1])
{
	int i;

	fprintf(f, "{");
	for (i = 0; i < CPU_NPARTS; i++)
		fprintf(f, "\"%s\":%.1f,", cpu_part_name[i], us[i]);
	fprintf(f, "\"all\":%.1f}", us[CPU_NPARTS]);
}
