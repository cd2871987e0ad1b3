/*
 * fuzz_config: libFuzzer harness for the seald.yaml loader (and through it
 * the shared cfg_yaml layer).  Any input must either load or fail with one
 * terminated error line that never holds the conninfo it read.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *cfg;
	char err[256];

	cfg = cfg_load_buffer("fuzz", data, size, err, sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL || strchr(err, '\n') != NULL)
		__builtin_trap();
	if (cfg != NULL && err[0] != '\0')
		__builtin_trap();
	cfg_free(cfg);
	return 0;
}
