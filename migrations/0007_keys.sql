-- 0007: keys that officers manage through the admin socket.  One row per
-- key version: generated inside the HSM (hsm_label and hsm_id name its
-- objects there; the private key never leaves it), its public key, the
-- certificate chain once imported, and its state.  A policy key without a
-- `label:` resolves to its name's active version here.  Every change to a
-- row is made in the same transaction as the ledger entry (kind 'key')
-- that records it, so the table never holds a change the ledger lacks.
CREATE TABLE keys (
    name           text        NOT NULL
        CHECK (name ~ '^[A-Za-z0-9._-]{1,63}$'),
    version        integer     NOT NULL CHECK (version >= 1),
    algorithm      text        NOT NULL CHECK (algorithm IN
        ('ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096')),
    hsm_label      text        NOT NULL UNIQUE,
    hsm_id         bytea       NOT NULL CHECK (length(hsm_id) BETWEEN 1 AND 64),
    public_key     bytea       NOT NULL,
    certificate    text,
    cert_not_after timestamptz,
    state          text        NOT NULL DEFAULT 'active' CHECK (state IN
        ('pending', 'active', 'retired', 'disabled', 'destroyed')),
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    changed_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT keys_pkey PRIMARY KEY (name, version)
);

-- at most one active version per name
CREATE UNIQUE INDEX keys_one_active ON keys (name) WHERE state = 'active';

ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_kind,
    ADD CONSTRAINT ledger_entries_kind
        CHECK (kind IN ('signature', 'policy', 'override', 'timestamp', 'key'))
        NOT VALID,
    ADD CONSTRAINT ledger_entries_key_complete
        CHECK (kind <> 'key' OR (client IS NOT NULL
            AND client_uid IS NOT NULL AND client_pid IS NOT NULL
            AND key_name IS NOT NULL AND key_version IS NOT NULL
            AND algorithm IS NOT NULL AND format IS NOT NULL
            AND digest_alg IS NOT NULL AND digest IS NOT NULL
            AND policy_hash IS NOT NULL)) NOT VALID;

REVOKE ALL ON keys FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON keys TO seald_writer;
GRANT SELECT ON keys TO seald_auditor;
