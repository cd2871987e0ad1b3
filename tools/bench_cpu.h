/*
 * bench_cpu: where the CPU time of a bench phase goes, read from /proc:
 * seald's core (the process seald.pid names and what it forked, but the
 * front), seald-front, the PostgreSQL cluster (the postmaster and its
 * children), the load tool itself, everything else that ran, time the
 * hypervisor took (steal) and idle time.  A snapshot before and after a
 * phase; the difference per request served.
 */
#ifndef SD_BENCH_CPU_H
#define SD_BENCH_CPU_H

#include <stdint.h>
#include <stdio.h>

enum cpu_part {
	CPU_CORE,
	CPU_FRONT,
	CPU_PG,
	CPU_SELF,
	CPU_OTHER,
	CPU_STEAL,
	CPU_IDLE,
	CPU_NPARTS
};

struct cpu_snap {
	unsigned long long t[CPU_NPARTS]; /* clock ticks */
	int ok;                           /* read whole */
};

/* The parts' names, for the table and the JSON keys. */
extern const char *const cpu_part_name[CPU_NPARTS];

/* The machine's CPU time so far, by part: seald is the pid of seald's
 * core, pg the postmaster's (either <= 0: counted as other).  0, or -1
 * when /proc cannot be read. */
int cpu_take(struct cpu_snap *s, long seald, long pg);

/* Add the time between snapshots a and b to d (zeroed by the caller);
 * nothing when either could not be taken. */
void cpu_add(
    struct cpu_snap *d, const struct cpu_snap *a, const struct cpu_snap *b);

/* Microseconds of CPU per unit of work in d (n units), by part, and
 * their sum in us[CPU_NPARTS] (the machine's cores times the time, per
 * unit). */
void cpu_per(const struct cpu_snap *d, uint64_t n, double us[CPU_NPARTS + 1]);

/* The header of the table, one row of it, and the row as a JSON object. */
void cpu_print_head(FILE *f);
void cpu_print(FILE *f, const char *what, const double us[CPU_NPARTS + 1]);
void cpu_json(FILE *f, const double us[CPU_NPARTS + 1]);

#endif
