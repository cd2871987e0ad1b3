-- 0001: the ledger of signatures.  One row per signature a client received;
-- (instance, seq) orders each instance's hash chain, (client, request_id)
-- makes retries idempotent.  Rows are append-only: triggers refuse UPDATE,
-- DELETE and TRUNCATE for every role, owner included.
CREATE TABLE ledger_entries (
    instance      text        NOT NULL,
    seq           bigint      NOT NULL CHECK (seq > 0),
    kind          text        NOT NULL,
    signed_at_us  bigint      NOT NULL,
    signed_at     timestamptz NOT NULL,
    client        text        NOT NULL,
    client_uid    bigint      NOT NULL,
    client_pid    bigint      NOT NULL,
    request_id    text        NOT NULL,
    request_hash  bytea       NOT NULL CHECK (length(request_hash) = 32),
    key_name      text        NOT NULL,
    key_version   integer     NOT NULL,
    algorithm     text        NOT NULL,
    digest_alg    text        NOT NULL,
    digest        bytea       NOT NULL,
    format        text        NOT NULL,
    signature     bytea       NOT NULL,
    evidence_type text        NOT NULL DEFAULT '',
    evidence_ref  text        NOT NULL DEFAULT '',
    prev_hash     bytea       NOT NULL CHECK (length(prev_hash) = 32),
    entry_hash    bytea       NOT NULL CHECK (length(entry_hash) = 32),
    CONSTRAINT ledger_entries_pkey PRIMARY KEY (instance, seq),
    CONSTRAINT ledger_entries_client_request UNIQUE (client, request_id)
);

CREATE FUNCTION ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER ledger_entries_no_change
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
