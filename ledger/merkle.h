/*
 * merkle: the Merkle tree over an instance's entries, hashed as RFC 9162
 * section 2.1 says (leaf = SHA-256(0x00 || entry_hash), node =
 * SHA-256(0x01 || left || right), the tree over n leaves split at the
 * largest power of two below n).  Leaf i is the entry with seq i + 1, so
 * the tree of a chain head at seq n has n leaves.
 *
 * Pure functions: the writer keeps a frontier (the perfect subtrees that
 * make up the tree so far) and stores each subtree it completes; a proof
 * is assembled from stored subtrees (merkle_proof_nodes lists them), and
 * checked by merkle_proof_root with nothing but hashes.
 */
#ifndef SD_MERKLE_H
#define SD_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "sd_limits.h"

#define MERKLE_LEVELS 63      /* trees of up to 2^63 - 1 leaves */
#define MERKLE_PATH_MAX 63    /* hashes in an inclusion proof */
#define MERKLE_NODES_MAX 4096 /* subtrees one proof may need */

/* A perfect subtree: 2^level leaves, the idx-th of its level (it covers
 * leaves [idx << level, (idx + 1) << level)). */
struct merkle_node {
	int level;
	uint64_t idx;
	uint8_t hash[SD_HASH_LEN];
};

/* The tree of `size` leaves as its perfect subtrees: node[k] is valid
 * when bit k of size is set (the subtree at level k, idx (size >> k) - 1). */
struct merkle_frontier {
	uint64_t size;
	uint8_t node[MERKLE_LEVELS + 1][SD_HASH_LEN];
};

/* SHA-256(0x00 || entry_hash). */
void merkle_leaf(
    const uint8_t entry_hash[SD_HASH_LEN], uint8_t out[SD_HASH_LEN]);

/* SHA-256(0x01 || left || right). */
void merkle_parent(const uint8_t left[SD_HASH_LEN],
    const uint8_t right[SD_HASH_LEN], uint8_t out[SD_HASH_LEN]);

/*
 * Append the leaf for entry_hash.  The subtrees it completes (level >= 1)
 * are written to made[0..*nmade) (room for MERKLE_LEVELS).  Returns 0, or
 * -1 when the tree is full.
 */
int merkle_push(struct merkle_frontier *f,
    const uint8_t entry_hash[SD_HASH_LEN], struct merkle_node *made,
    size_t *nmade) __attribute__((warn_unused_result));

/* The root of the tree (SHA-256 of nothing when it is empty). */
void merkle_root(const struct merkle_frontier *f, uint8_t out[SD_HASH_LEN]);

/*
 * The perfect subtrees a frontier of `size` leaves is made of, largest
 * first, as (level, idx) with the hash left for the caller to fill.
 * Returns how many (at most MERKLE_LEVELS + 1).
 */
size_t merkle_frontier_nodes(uint64_t size, struct merkle_node *out);

/* Build a frontier from the nodes merkle_frontier_nodes(size) listed,
 * hashes filled in. */
void merkle_frontier_from(struct merkle_frontier *f, uint64_t size,
    const struct merkle_node *nodes, size_t n);

/*
 * The inclusion proof of leaf `leaf` in the tree of `size` leaves needs
 * the hashes of these perfect subtrees (level 0: a leaf hash).  Writes
 * them to out (cap entries); returns how many, or 0 when leaf >= size or
 * cap is too small.  Duplicates are not removed.
 */
size_t merkle_proof_nodes(
    uint64_t leaf, uint64_t size, struct merkle_node *out, size_t cap);

/*
 * The audit path (RFC 9162 2.1.3.1), leaf's sibling first, from the
 * nodes merkle_proof_nodes listed with their hashes filled in.  Returns
 * the number of hashes written to path (at most MERKLE_PATH_MAX), or -1
 * when a needed node is not among them.
 */
int merkle_proof_path(uint64_t leaf, uint64_t size,
    const struct merkle_node *nodes, size_t n, uint8_t path[][SD_HASH_LEN]);

/*
 * Check an inclusion proof (RFC 9162 2.1.3.2): the root that path leads
 * to from entry_hash's leaf at index leaf of a tree of size leaves goes to
 * root.  Returns 0, or -1 when the path does not fit the index and size.
 */
int merkle_proof_root(uint64_t leaf, uint64_t size,
    const uint8_t entry_hash[SD_HASH_LEN], const uint8_t path[][SD_HASH_LEN],
    size_t npath, uint8_t root[SD_HASH_LEN])
    __attribute__((warn_unused_result));

#endif
