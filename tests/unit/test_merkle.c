/*
 * test_merkle: the frontier, proof assembly and proof check against a
 * plain recursive transcription of RFC 9162 section 2.1 (MTH and PATH),
 * for every tree size up to 130 and every leaf; plus fixed vectors in
 * docs/ledger-format.md, and proofs that must fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "merkle.h"

#define NMAX 130

static uint8_t entries[NMAX][SD_HASH_LEN];

/* entry hashes: SHA-256 of the 8-byte big-endian seq */
static void
make_entries(void)
{
	uint8_t b[8];
	int i, j;

	for (i = 0; i < NMAX; i++) {
		for (j = 0; j < 8; j++)
			b[j] = (uint8_t)((uint64_t)(i + 1) >> (56 - 8 * j));
		SHA256(b, 8, entries[i]);
	}
}

static uint64_t
k_of(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH(D[a:b]) as RFC 9162 2.1.1 defines it. */
static void
mth(uint64_t a, uint64_t b, uint8_t out[SD_HASH_LEN])
{
	uint8_t buf[1 + 2 * SD_HASH_LEN];
	uint64_t k;

	if (b - a == 1) {
		buf[0] = 0;
		memcpy(buf + 1, entries[a], SD_HASH_LEN);
		SHA256(buf, 1 + SD_HASH_LEN, out);
		return;
	}
	k = k_of(b - a);
	buf[0] = 1;
	mth(a, a + k, buf + 1);
	mth(a + k, b, buf + 1 + SD_HASH_LEN);
	SHA256(buf, sizeof(buf), out);
}

/* PATH(m, D[a:b]) as RFC 9162 2.1.3.1 defines it. */
static size_t
path_ref(uint64_t m, uint64_t a, uint64_t b, uint8_t out[][SD_HASH_LEN])
{
	uint64_t k;
	size_t n;

	if (b - a == 1)
		return 0;
	k = k_of(b - a);
	if (m < k) {
		n = path_ref(m, a, a + k, out);
		mth(a + k, b, out[n]);
	} else {
		n = path_ref(m - k, a + k, b, out);
		mth(a, a + k, out[n]);
	}
	return n + 1;
}

static void
frontier_matches_mth(void **state)
{
	struct merkle_frontier f;
	struct merkle_node made[MERKLE_LEVELS], fn[MERKLE_LEVELS + 1];
	struct merkle_frontier g;
	uint8_t root[SD_HASH_LEN], want[SD_HASH_LEN];
	size_t nmade, nf, i;
	uint64_t n, total = 0;

	(void)state;
	memset(&f, 0, sizeof(f));
	merkle_root(&f, root);
	SHA256(NULL, 0, want);
	assert_memory_equal(root, want, SD_HASH_LEN);
	for (n = 1; n <= NMAX; n++) {
		assert_int_equal(
		    merkle_push(&f, entries[n - 1], made, &nmade), 0);
		/* every subtree it completes is the MTH of its leaves */
		for (i = 0; i < nmade; i++) {
			mth(made[i].idx << made[i].level,
			    (made[i].idx + 1) << made[i].level, want);
			assert_memory_equal(made[i].hash, want, SD_HASH_LEN);
		}
		total += nmade;
		merkle_root(&f, root);
		mth(0, n, want);
		assert_memory_equal(root, want, SD_HASH_LEN);
		/* a frontier rebuilt from its listed subtrees is the same */
		nf = merkle_frontier_nodes(n, fn);
		for (i = 0; i < nf; i++)
			mth(fn[i].idx << fn[i].level,
			    (fn[i].idx + 1) << fn[i].level, fn[i].hash);
		merkle_frontier_from(&g, n, fn, nf);
		merkle_root(&g, root);
		assert_memory_equal(root, want, SD_HASH_LEN);
	}
	/* one stored subtree per internal node of the perfect parts */
	assert_int_equal(total, NMAX - (uint64_t)__builtin_popcountll(NMAX));
}

static void
proofs_match_path(void **state)
{
	struct merkle_node nodes[256];
	uint8_t path[MERKLE_PATH_MAX][SD_HASH_LEN];
	uint8_t ref[MERKLE_PATH_MAX][SD_HASH_LEN];
	uint8_t root[SD_HASH_LEN], want[SD_HASH_LEN];
	uint64_t n, m;
	size_t nn, i, nref;
	int np;

	(void)state;
	for (n = 1; n <= NMAX; n++) {
		mth(0, n, want);
		for (m = 0; m < n; m++) {
			nn = merkle_proof_nodes(m, n, nodes, 256);
			assert_true(n == 1 || nn > 0);
			for (i = 0; i < nn; i++)
				mth(nodes[i].idx << nodes[i].level,
				    (nodes[i].idx + 1) << nodes[i].level,
				    nodes[i].hash);
			np = merkle_proof_path(m, n, nodes, nn, path);
			nref = path_ref(m, 0, n, ref);
			assert_int_equal(np, (int)nref);
			for (i = 0; i < nref; i++)
				assert_memory_equal(
				    path[i], ref[i], SD_HASH_LEN);
			assert_int_equal(
			    merkle_proof_root(m, n, entries[m],
				(const uint8_t(*)[SD_HASH_LEN])path, (size_t)np,
				root),
			    0);
			assert_memory_equal(root, want, SD_HASH_LEN);
		}
	}
}

static void
bad_proofs_fail(void **state)
{
	struct merkle_node nodes[256];
	uint8_t path[MERKLE_PATH_MAX][SD_HASH_LEN];
	uint8_t root[SD_HASH_LEN], want[SD_HASH_LEN];
	size_t nn, i;
	int np;

	(void)state;
	nn = merkle_proof_nodes(37, 100, nodes, 256);
	for (i = 0; i < nn; i++)
		mth(nodes[i].idx << nodes[i].level,
		    (nodes[i].idx + 1) << nodes[i].level, nodes[i].hash);
	np = merkle_proof_path(37, 100, nodes, nn, path);
	assert_true(np > 0);
	mth(0, 100, want);
	/* another leaf's hash at this index */
	assert_int_equal(
	    merkle_proof_root(37, 100, entries[38],
		(const uint8_t(*)[SD_HASH_LEN])path, (size_t)np, root),
	    0);
	assert_memory_not_equal(root, want, SD_HASH_LEN);
	/* the right leaf at another index */
	assert_int_equal(
	    merkle_proof_root(36, 100, entries[37],
		(const uint8_t(*)[SD_HASH_LEN])path, (size_t)np, root),
	    0);
	assert_memory_not_equal(root, want, SD_HASH_LEN);
	/* a path too short or too long for the size */
	assert_int_equal(
	    merkle_proof_root(37, 100, entries[37],
		(const uint8_t(*)[SD_HASH_LEN])path, (size_t)np - 1, root),
	    -1);
	assert_int_equal(
	    merkle_proof_root(37, 50, entries[37],
		(const uint8_t(*)[SD_HASH_LEN])path, (size_t)np, root),
	    -1);
	/* index outside the tree; a node missing from the set */
	assert_int_equal(merkle_proof_root(100, 100, entries[37],
			     (const uint8_t(*)[SD_HASH_LEN])path, 0, root),
	    -1);
	assert_int_equal(merkle_proof_nodes(100, 100, nodes, 256), 0);
	assert_int_equal(merkle_proof_path(37, 100, nodes, nn - 1, path), -1);
}

/* The vectors docs/ledger-format.md prints (entry hashes as above),
 * computed there with a few lines of Python from the RFC's definitions. */
static void
hex_equal(const uint8_t *h, const char *want)
{
	char hex[2 * SD_HASH_LEN + 1];
	size_t i;

	for (i = 0; i < SD_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	assert_string_equal(hex, want);
}

static void
documented_vectors(void **state)
{
	static const char *roots[] = {
		"277dddee83152dcc8ba5f7ab96e552f178c2fee48d0b81982597f0d743f675"
		"f7",
		"ddd321bb19e41a0509d3b04ec428f3cbf4a96747115834b0074bd4dbc542b2"
		"30",
		"76bad20ef3db6c3f44b3e36ef58905da600ae85fb5baba5ba86dc3f61cde4a"
		"c5",
	};
	static const char *path3of7[] = {
		"1dd18a67014a2f7f605953bcde923137e4b0d66bdee5b22202e765382ba49f"
		"5d",
		"f19275f559e1887a3bfd39287e27619fe607f0c644ff616d1a922d7f5155fb"
		"68",
		"dba44368c2c7ffb4b7d6f31156768534d7e006cab57809c1445f869a4f2f34"
		"bb",
	};
	struct merkle_frontier f;
	struct merkle_node made[MERKLE_LEVELS], nodes[64];
	uint8_t root[SD_HASH_LEN], path[MERKLE_PATH_MAX][SD_HASH_LEN];
	size_t nmade, nn, i;
	int n, r = 0;

	(void)state;
	memset(&f, 0, sizeof(f));
	for (n = 1; n <= 7; n++) {
		assert_int_equal(
		    merkle_push(&f, entries[n - 1], made, &nmade), 0);
		if (n != 1 && n != 3 && n != 7)
			continue;
		merkle_root(&f, root);
		hex_equal(root, roots[r++]);
	}
	nn = merkle_proof_nodes(2, 7, nodes, 64);
	for (i = 0; i < nn; i++)
		mth(nodes[i].idx << nodes[i].level,
		    (nodes[i].idx + 1) << nodes[i].level, nodes[i].hash);
	assert_int_equal(merkle_proof_path(2, 7, nodes, nn, path), 3);
	for (i = 0; i < 3; i++)
		hex_equal(path[i], path3of7[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frontier_matches_mth),
		cmocka_unit_test(proofs_match_path),
		cmocka_unit_test(bad_proofs_fail),
		cmocka_unit_test(documented_vectors),
	};

	make_entries();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
