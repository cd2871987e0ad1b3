-- 0004: a Merkle tree over each instance's entries (RFC 9162 hashing,
-- docs/ledger-format.md).  ledger_merkle holds every perfect subtree of
-- two or more leaves, written in the same statement as the entries that
-- complete it, so that an inclusion proof needs a few rows, not the whole
-- chain.  Checkpoints now also sign the tree's root (NULL in checkpoints
-- made before this migration) and says whether it is the closing one of a
-- clean stop: entries after a closing checkpoint were not written by seald,
-- which signs an opening checkpoint (same seq, later time) when it starts
-- again before it appends anything.  'override' entries record a start-up
-- past a failed chain check, which an operator asked for explicitly.
CREATE TABLE ledger_merkle (
    instance text     NOT NULL,
    level    smallint NOT NULL CHECK (level BETWEEN 1 AND 63),
    idx      bigint   NOT NULL CHECK (idx >= 0),
    hash     bytea    NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT ledger_merkle_pkey PRIMARY KEY (instance, level, idx)
);

CREATE TRIGGER ledger_merkle_no_change
    BEFORE UPDATE OR DELETE ON ledger_merkle
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_merkle_no_truncate
    BEFORE TRUNCATE ON ledger_merkle
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

ALTER TABLE ledger_checkpoints
    ADD COLUMN root bytea CHECK (root IS NULL OR length(root) = 32),
    ADD COLUMN closing boolean NOT NULL DEFAULT false,
    DROP CONSTRAINT ledger_checkpoints_pkey,
    ADD CONSTRAINT ledger_checkpoints_pkey
        PRIMARY KEY (instance, seq, signed_at_us);

ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_kind,
    ADD CONSTRAINT ledger_entries_kind
        CHECK (kind IN ('signature', 'policy', 'override')) NOT VALID,
    ADD CONSTRAINT ledger_entries_override_complete
        CHECK (kind <> 'override' OR policy_hash IS NOT NULL) NOT VALID;
