-- 0008: the life of a key, and two-person control.
--
-- A key version's identity (name, version, algorithm, HSM label and id,
-- public key, who made it and when) never changes once recorded: the
-- daemon's role may update only its certificate and state, and a trigger
-- refuses any other change for every role.  seald also checks each row it
-- signs with against the ledger's 'generate' entry for it (the index below
-- finds key entries fast).
--
-- Two-person control.  With approvals_required: 2 in the policy (and
-- always for destroy), a key change by one officer is a proposal that a
-- second, different officer must approve before it expires; only then does
-- it run.  Proposals change state only in the transaction of the ledger
-- entry that records the change (kind 'key', format 'propose' or
-- 'approve'), like the keys table.
CREATE TABLE key_proposals (
    id           bigint      PRIMARY KEY CHECK (id > 0), -- random, chosen by seald
    action       text        NOT NULL CHECK (action IN
        ('generate', 'rotate', 'retire', 'disable', 'destroy')),
    name         text        NOT NULL
        CHECK (name ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,62}$'),
    version      integer     CHECK (version IS NULL OR version >= 1),
    algorithm    text,
    proposed_by  text        NOT NULL,
    proposed_uid bigint      NOT NULL,
    proposed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    state        text        NOT NULL DEFAULT 'pending' CHECK (state IN
        ('pending', 'approved', 'done', 'failed')),
    approved_by  text,
    approved_at  timestamptz,
    CHECK (approved_by IS NULL OR approved_by <> proposed_by)
);

REVOKE ALL ON key_proposals FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON key_proposals TO seald_writer;
GRANT SELECT ON key_proposals TO seald_auditor;

REVOKE UPDATE ON keys FROM seald_writer;
GRANT UPDATE (certificate, cert_not_after, state, changed_at) ON keys
    TO seald_writer;

CREATE FUNCTION keys_refuse_identity_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name IS DISTINCT FROM OLD.name
        OR NEW.version IS DISTINCT FROM OLD.version
        OR NEW.algorithm IS DISTINCT FROM OLD.algorithm
        OR NEW.hsm_label IS DISTINCT FROM OLD.hsm_label
        OR NEW.hsm_id IS DISTINCT FROM OLD.hsm_id
        OR NEW.public_key IS DISTINCT FROM OLD.public_key
        OR NEW.created_by IS DISTINCT FROM OLD.created_by
        OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'a key version''s identity never changes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state = 'destroyed' AND NEW.state <> 'destroyed' THEN
        RAISE EXCEPTION 'a destroyed key stays destroyed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER keys_identity
    BEFORE UPDATE ON keys
    FOR EACH ROW EXECUTE FUNCTION keys_refuse_identity_change();

CREATE FUNCTION keys_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key versions are never deleted (destroy sets the state)'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER keys_no_delete
    BEFORE DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION keys_refuse_delete();

CREATE INDEX ledger_entries_key_events ON ledger_entries (key_name, key_version)
    WHERE kind = 'key';
