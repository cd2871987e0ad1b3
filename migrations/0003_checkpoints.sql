-- 0003: signed checkpoints of each instance's chain head.  At intervals,
-- and when it stops, seald signs (instance, seq, entry_hash, time) with its
-- HSM audit key, so that removing the newest entries, or rewriting the
-- chain after a checkpoint, is detectable by anyone who holds the audit
-- public key.  Append-only like the ledger itself.
CREATE TABLE ledger_checkpoints (
    instance     text        NOT NULL,
    seq          bigint      NOT NULL CHECK (seq > 0),
    entry_hash   bytea       NOT NULL CHECK (length(entry_hash) = 32),
    signed_at_us bigint      NOT NULL,
    signed_at    timestamptz NOT NULL,
    key_label    text        NOT NULL,
    algorithm    text        NOT NULL,
    signature    bytea       NOT NULL,
    CONSTRAINT ledger_checkpoints_pkey PRIMARY KEY (instance, seq)
);

CREATE TRIGGER ledger_checkpoints_no_change
    BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_checkpoints_no_truncate
    BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
