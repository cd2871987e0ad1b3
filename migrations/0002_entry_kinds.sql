-- 0002: more than signatures.  Every signature records the SHA-256 of the
-- policy that allowed it, and policy loads and reloads are entries of their
-- own (kind 'policy': policy_hash and detail, no request columns).  The
-- completeness checks apply to rows written from now on (NOT VALID).
ALTER TABLE ledger_entries
    ADD COLUMN policy_hash bytea
        CHECK (policy_hash IS NULL OR length(policy_hash) = 32),
    ADD COLUMN detail text NOT NULL DEFAULT '';

ALTER TABLE ledger_entries
    ALTER COLUMN client DROP NOT NULL,
    ALTER COLUMN client_uid DROP NOT NULL,
    ALTER COLUMN client_pid DROP NOT NULL,
    ALTER COLUMN request_id DROP NOT NULL,
    ALTER COLUMN request_hash DROP NOT NULL,
    ALTER COLUMN key_name DROP NOT NULL,
    ALTER COLUMN key_version DROP NOT NULL,
    ALTER COLUMN algorithm DROP NOT NULL,
    ALTER COLUMN digest_alg DROP NOT NULL,
    ALTER COLUMN digest DROP NOT NULL,
    ALTER COLUMN format DROP NOT NULL,
    ALTER COLUMN signature DROP NOT NULL;

ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_kind
        CHECK (kind IN ('signature', 'policy')) NOT VALID,
    ADD CONSTRAINT ledger_entries_signature_complete
        CHECK (kind <> 'signature' OR (client IS NOT NULL
            AND client_uid IS NOT NULL AND client_pid IS NOT NULL
            AND request_id IS NOT NULL AND request_hash IS NOT NULL
            AND key_name IS NOT NULL AND key_version IS NOT NULL
            AND algorithm IS NOT NULL AND digest_alg IS NOT NULL
            AND digest IS NOT NULL AND format IS NOT NULL
            AND signature IS NOT NULL AND policy_hash IS NOT NULL)) NOT VALID,
    ADD CONSTRAINT ledger_entries_policy_complete
        CHECK (kind <> 'policy' OR policy_hash IS NOT NULL) NOT VALID;
