/*
 * test_secret: secret memory is locked and left out of core dumps, as the
 * kernel reports it in /proc/self/smaps; the PIN file rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "secret.h"

/* "LO-HI perms ..." of a mapping's first line; 0 for other lines. */
static int
range_of(const char *line, unsigned long *lo, unsigned long *hi)
{
	char *end;

	*lo = strtoul(line, &end, 16);
	if (end == line || *end != '-')
		return 0;
	line = end + 1;
	*hi = strtoul(line, &end, 16);
	return end != line && *end == ' ';
}

/* The smaps block of the mapping that holds p: its Locked kB and
 * whether VmFlags has dd (do not dump); -1 when there is none. */
static long
smaps_of(const void *p, int *dontdump)
{
	unsigned long lo, hi, at = (unsigned long)(uintptr_t)p;
	char line[512];
	long locked = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	*dontdump = 0;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (range_of(line, &lo, &hi)) {
			in = lo <= at && at < hi;
			continue;
		}
		if (in && strncmp(line, "Locked:", 7) == 0)
			locked = strtol(line + 7, NULL, 10);
		if (in && strncmp(line, "VmFlags:", 8) == 0)
			*dontdump = strstr(line, " dd") != NULL;
	}
	fclose(f);
	return locked;
}

#ifdef __SANITIZE_ADDRESS__
#define ASAN 1
#else
#define ASAN 0
#endif

/* 1 when this process may lock a page: tried on a page of its own, as
 * the environment decides (RLIMIT_MEMLOCK, a container's rules); seald
 * warns when it cannot, and the lock is then not checked. */
static int
may_lock(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok;

	if (p == MAP_FAILED)
		return 0;
	ok = mlock(p, (size_t)pg) == 0;
	munmap(p, (size_t)pg);
	return ok;
}

static void
test_alloc_locked_dontdump(void **state)
{
	char *p;
	long locked;
	int dd;

	(void)state;
	assert_non_null(p = secret_alloc(100));
	assert_int_equal((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
	memcpy(p, "1234", 5);
	locked = smaps_of(p, &dd);
	if (!may_lock())
		print_message("this process may not lock memory here: the "
			      "lock is not checked\n");
	else if (!ASAN) /* ASan makes mlock a no-op */
		assert_true(locked > 0);
	assert_int_equal(dd, 1);
	secret_free(p, 100);
	assert_int_equal(smaps_of(p, &dd), -1); /* unmapped */
	secret_free(NULL, 100);
}

static void
test_pin_file_rules(void **state)
{
	char dir[] = "/tmp/test_secret.XXXXXX", path[64], buf[32], err[256];
	size_t len;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pin", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("4242\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(
	    secret_read_file(path, buf, sizeof(buf), &len, err, sizeof(err)),
	    0);
	assert_string_equal(buf, "4242");
	assert_int_equal(len, 4);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(
	    secret_read_file(path, buf, sizeof(buf), &len, err, sizeof(err)),
	    SD_ERR_CONFIG);
	assert_non_null(strstr(err, "mode 0640 is too open"));
	assert_int_equal(buf[0], '\0'); /* wiped */
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_locked_dontdump),
		cmocka_unit_test(test_pin_file_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
