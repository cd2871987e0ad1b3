/*
 * policy_data: see policy_data.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_data.h"

const char *
policy_data_dir(void)
{
	const char *d = getenv("SEALD_TEST_DATA");

	return d != NULL && *d != '\0' ? d : "tests/data/policy";
}

void
policy_data_path(char *path, size_t len, const char *file)
{
	int n = snprintf(path, len, "%s/%s", policy_data_dir(), file);

	assert_true(n > 0 && (size_t)n < len);
}

struct policy *
policy_data_load(const char *file)
{
	char path[1024], err[1024];
	struct policy *p;

	policy_data_path(path, sizeof(path), file);
	if ((p = policy_load(path, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_string_equal(err, "");
	return p;
}

const struct policy_principal *
policy_data_client(const struct policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < policy_nclients(p); i++)
		if (strcmp(policy_client_at(p, i)->name, name) == 0)
			return policy_client_at(p, i);
	return NULL;
}
