/*
 * merkle: RFC 9162 tree hashing over entry hashes, with a frontier for
 * appending and proofs assembled from perfect subtrees.  See merkle.h.
 */
#include <string.h>

#include <openssl/sha.h>

#include "merkle.h"

void
merkle_leaf(const uint8_t entry_hash[SD_HASH_LEN], uint8_t out[SD_HASH_LEN])
{
	uint8_t buf[1 + SD_HASH_LEN];

	buf[0] = 0x00;
	memcpy(buf + 1, entry_hash, SD_HASH_LEN);
	SHA256(buf, sizeof(buf), out);
}

void
merkle_parent(const uint8_t left[SD_HASH_LEN], const uint8_t right[SD_HASH_LEN],
    uint8_t out[SD_HASH_LEN])
{
	uint8_t buf[1 + 2 * SD_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, SD_HASH_LEN);
	memcpy(buf + 1 + SD_HASH_LEN, right, SD_HASH_LEN);
	SHA256(buf, sizeof(buf), out); /* out may be left or right */
}

int
merkle_push(struct merkle_frontier *f, const uint8_t entry_hash[SD_HASH_LEN],
    struct merkle_node *made, size_t *nmade)
{
	uint8_t carry[SD_HASH_LEN];
	uint64_t i = f->size;
	int k = 0;

	*nmade = 0;
	if (i >= (UINT64_C(1) << MERKLE_LEVELS) - 1)
		return -1;
	merkle_leaf(entry_hash, carry);
	/* each set low bit is a left sibling waiting for this subtree */
	while (i >> k & 1) {
		merkle_parent(f->node[k], carry, carry);
		k++;
		made[*nmade].level = k;
		made[*nmade].idx = i >> k;
		memcpy(made[*nmade].hash, carry, SD_HASH_LEN);
		(*nmade)++;
	}
	memcpy(f->node[k], carry, SD_HASH_LEN);
	f->size = i + 1;
	return 0;
}

void
merkle_root(const struct merkle_frontier *f, uint8_t out[SD_HASH_LEN])
{
	int k, have = 0;

	if (f->size == 0) {
		SHA256(NULL, 0, out);
		return;
	}
	/* the tree splits at its largest power of two: fold from the right */
	for (k = 0; k <= MERKLE_LEVELS; k++) {
		if (!(f->size >> k & 1))
			continue;
		if (!have)
			memcpy(out, f->node[k], SD_HASH_LEN);
		else
			merkle_parent(f->node[k], out, out);
		have = 1;
	}
}

size_t
merkle_frontier_nodes(uint64_t size, struct merkle_node *out)
{
	size_t n = 0;
	int k;

	for (k = MERKLE_LEVELS; k >= 0; k--) {
		if (!(size >> k & 1))
			continue;
		out[n].level = k;
		out[n].idx = (size >> k) - 1;
		memset(out[n].hash, 0, SD_HASH_LEN);
		n++;
	}
	return n;
}

void
merkle_frontier_from(struct merkle_frontier *f, uint64_t size,
    const struct merkle_node *nodes, size_t n)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->size = size;
	for (i = 0; i < n; i++)
		if (nodes[i].level >= 0 && nodes[i].level <= MERKLE_LEVELS)
			memcpy(f->node[nodes[i].level], nodes[i].hash,
			    SD_HASH_LEN);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t
split_of(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k)
		k <<= 1;
	return k;
}

static int
pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static int
log2_of(uint64_t n)
{
	int k = 0;

	while (n > 1) {
		n >>= 1;
		k++;
	}
	return k;
}

/*
 * The sibling ranges [a, b) of the audit path of leaf in [0, size), root
 * level first.  Returns how many (at most MERKLE_PATH_MAX).
 */
static size_t
path_ranges(uint64_t leaf, uint64_t size, uint64_t ra[], uint64_t rb[])
{
	uint64_t a = 0, b = size, k;
	size_t n = 0;

	while (b - a > 1 && n < MERKLE_PATH_MAX) {
		k = split_of(b - a);
		if (leaf < a + k) {
			ra[n] = a + k;
			rb[n] = b;
			b = a + k;
		} else {
			ra[n] = a;
			rb[n] = a + k;
			a = a + k;
		}
		n++;
	}
	return n;
}

size_t
merkle_proof_nodes(
    uint64_t leaf, uint64_t size, struct merkle_node *out, size_t cap)
{
	uint64_t ra[MERKLE_PATH_MAX], rb[MERKLE_PATH_MAX], a, b, k;
	size_t nr, i, n = 0;

	if (leaf >= size)
		return 0;
	nr = path_ranges(leaf, size, ra, rb);
	for (i = 0; i < nr; i++) {
		/* a range that is not a perfect subtree is the perfect
		 * subtrees it splits into, left to right */
		for (a = ra[i], b = rb[i]; a < b; a += k) {
			k = pow2(b - a) ? b - a : split_of(b - a);
			if (n == cap)
				return 0;
			out[n].level = log2_of(k);
			out[n].idx = a >> out[n].level;
			memset(out[n].hash, 0, SD_HASH_LEN);
			n++;
		}
	}
	return n;
}

static const struct merkle_node *
find_node(const struct merkle_node *nodes, size_t n, int level, uint64_t idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (nodes[i].level == level && nodes[i].idx == idx)
			return &nodes[i];
	return NULL;
}

/* The hash of leaves [a, b), from perfect subtrees in nodes. */
static int
range_hash(uint64_t a, uint64_t b, const struct merkle_node *nodes, size_t n,
    uint8_t out[SD_HASH_LEN])
{
	uint8_t right[SD_HASH_LEN];
	const struct merkle_node *p;
	uint64_t k;
	int level;

	if (pow2(b - a)) {
		level = log2_of(b - a);
		if ((p = find_node(nodes, n, level, a >> level)) == NULL)
			return -1;
		memcpy(out, p->hash, SD_HASH_LEN);
		return 0;
	}
	k = split_of(b - a);
	if (range_hash(a, a + k, nodes, n, out) != 0 ||
	    range_hash(a + k, b, nodes, n, right) != 0)
		return -1;
	merkle_parent(out, right, out);
	return 0;
}

int
merkle_proof_path(uint64_t leaf, uint64_t size, const struct merkle_node *nodes,
    size_t n, uint8_t path[][SD_HASH_LEN])
{
	uint64_t ra[MERKLE_PATH_MAX], rb[MERKLE_PATH_MAX];
	size_t nr, i;

	if (leaf >= size)
		return -1;
	nr = path_ranges(leaf, size, ra, rb);
	/* the path lists the leaf's sibling first: reverse the ranges */
	for (i = 0; i < nr; i++)
		if (range_hash(
			ra[nr - 1 - i], rb[nr - 1 - i], nodes, n, path[i]) != 0)
			return -1;
	return (int)nr;
}

int
merkle_proof_root(uint64_t leaf, uint64_t size,
    const uint8_t entry_hash[SD_HASH_LEN], const uint8_t path[][SD_HASH_LEN],
    size_t npath, uint8_t root[SD_HASH_LEN])
{
	uint64_t fn = leaf, sn;
	size_t i;

	if (leaf >= size || npath > MERKLE_PATH_MAX)
		return -1;
	sn = size - 1;
	merkle_leaf(entry_hash, root);
	for (i = 0; i < npath; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_parent(path[i], root, root);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_parent(root, path[i], root);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 ? 0 : -1;
}
