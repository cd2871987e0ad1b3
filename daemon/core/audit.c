/*
 * audit: see audit.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "err.h"
#include "log.h"

static int
audit_sign(void *arg, const uint8_t digest[SD_HASH_LEN], uint8_t *sig,
    size_t cap, size_t *siglen)
{
	struct audit *a = arg;

	return hsm_sign(a->hsm, a->key,
	    hsm_key_is_ec(a->key) ? HSM_ECDSA : HSM_RSA_PKCS1, HSM_SHA256,
	    digest, SD_HASH_LEN, sig, cap, siglen);
}

/* path, replaced whole: a new file written, synced and renamed over it,
 * the folder synced.  0 or -1 (errno). */
static int
file_put(const char *path, const char *text, size_t len)
{
	char tmp[SD_PATH_MAX + 8], dir[SD_PATH_MAX];
	int fd, ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
	    0)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
	if (!ok)
		return -1;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >=
	    0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

/* The ledger's new head: into the token, then the file.  A failure is
 * said and the witness lags: the database is ahead of it, which never
 * stops a start. */
static void
audit_witness(void *arg, const char *note, size_t len)
{
	static int said_file;
	struct audit *a = arg;
	int r;

	if (a->in_token) {
		r = hsm_data_put(a->hsm, a->label, note, len);
		if (r == SD_ERR_UNSUPPORTED) {
			a->in_token = 0;
			log_warn("the token keeps no data objects: the signed "
				 "head is witnessed %s",
			    a->file[0] != '\0' ? "in ledger.witness_file only"
					       : "nowhere but the database");
		} else if (r == SD_ERR_CONFLICT) {
			/* else one more object at every checkpoint */
			a->in_token = 0;
			log_warn(
			    "the token did not let seald remove an older "
			    "signed head: the head is no longer kept in the "
			    "token (%s)",
			    a->file[0] != '\0'
				? "ledger.witness_file goes on"
				: "nor anywhere but the database");
		} else if (r != 0) {
			log_warn("the signed head was not stored in the token "
				 "(it will be with the next checkpoint)");
		}
	}
	if (a->file[0] != '\0') {
		if (file_put(a->file, note, len) != 0) {
			if (!said_file++)
				log_warn("ledger.witness_file %s: %s", a->file,
				    strerror(errno));
		} else {
			said_file = 0;
		}
	}
}

static void
take_head(void *arg, const void *val, size_t len)
{
	struct audit *a = arg;

	if (a->nheads + 1 >= AUDIT_HEADS_MAX || len >= SD_NOTE_MAX)
		return;
	memcpy(a->text[a->nheads], val, len);
	a->heads[a->nheads].text = a->text[a->nheads];
	a->heads[a->nheads].len = len;
	a->heads[a->nheads].where = "the token";
	a->nheads++;
}

/* The heads witnessed before: the token's objects, the file. */
static int
read_heads(struct audit *a)
{
	ssize_t n;
	int fd;

	if (a->in_token && hsm_data_get(a->hsm, a->label, take_head, a) != 0) {
		log_error("cannot read the signed head witnessed in the token");
		return -1;
	}
	if (a->file[0] == '\0')
		return 0;
	if ((fd = open(a->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0; /* none written yet */
		log_error(
		    "ledger.witness_file %s: %s", a->file, strerror(errno));
		return -1;
	}
	n = read(fd, a->text[a->nheads], SD_NOTE_MAX);
	close(fd);
	if (n < 0 || n >= SD_NOTE_MAX) {
		log_error("ledger.witness_file %s: %s", a->file,
		    n < 0 ? strerror(errno) : "longer than a signed head");
		return -1;
	}
	a->heads[a->nheads].text = a->text[a->nheads];
	a->heads[a->nheads].len = (size_t)n;
	a->heads[a->nheads].where = a->file;
	a->nheads++;
	return 0;
}

int
audit_setup(const struct cfg *cfg, struct hsm *hsm, struct audit *a,
    const struct ledger_checkpointer **out)
{
	struct ledger_checkpointer *cp = &a->cp;
	char err[512];

	*out = NULL;
	memset(a, 0, sizeof(*a));
	if (cfg->checkpoint_key[0] == '\0') {
		log_warn("no ledger.checkpoint_key: the chain head is not "
			 "signed (a removed tail would not show)");
		return 0;
	}
	if ((a->key = hsm_key_find(
		 hsm, cfg->checkpoint_key, err, sizeof(err))) == NULL) {
		log_error("audit key: %s", err);
		return -1;
	}
	a->hsm = hsm;
	a->in_token = cfg->witness_in_token;
	snprintf(a->label, sizeof(a->label), "seald-head/%s", cfg->instance);
	snprintf(a->file, sizeof(a->file), "%s", cfg->witness_file);
	cp->sign = audit_sign;
	cp->witness = audit_witness;
	cp->arg = a;
	cp->key_label = cfg->checkpoint_key;
	cp->algorithm =
	    hsm_key_is_ec(a->key) ? "ecdsa-sha256" : "rsa-pkcs1v15-sha256";
	cp->pub = hsm_key_public(a->key);
	cp->every = cfg->checkpoint_every;
	cp->seconds = cfg->checkpoint_seconds;
	if (read_heads(a) != 0)
		return -1;
	*out = cp;
	return 0;
}
