-- 0006: RFC 3161 time-stamp tokens are ledger entries (kind 'timestamp'),
-- committed before the token is handed out, like signatures.  digest_alg
-- and digest hold the request's message imprint, signature the token
-- (a DER ContentInfo), request_hash the SHA-256 of the TimeStampReq;
-- tsa_serial is the token's serial number and tsa_policy its policy OID.
-- A serial number is never issued twice, by any instance: the unique
-- index refuses a repeat before the token leaves seald.
ALTER TABLE ledger_entries
    ADD COLUMN tsa_serial bytea
        CHECK (tsa_serial IS NULL OR length(tsa_serial) BETWEEN 1 AND 20),
    ADD COLUMN tsa_policy text
        CHECK (tsa_policy IS NULL OR length(tsa_policy) BETWEEN 3 AND 95),
    DROP CONSTRAINT ledger_entries_kind,
    ADD CONSTRAINT ledger_entries_kind
        CHECK (kind IN ('signature', 'policy', 'override', 'timestamp')) NOT VALID,
    ADD CONSTRAINT ledger_entries_timestamp_complete
        CHECK (kind <> 'timestamp' OR (client IS NOT NULL
            AND client_uid IS NOT NULL AND client_pid IS NOT NULL
            AND request_hash IS NOT NULL AND key_name IS NOT NULL
            AND key_version IS NOT NULL AND algorithm IS NOT NULL
            AND digest_alg IS NOT NULL AND digest IS NOT NULL
            AND format IS NOT NULL AND signature IS NOT NULL
            AND policy_hash IS NOT NULL AND tsa_serial IS NOT NULL
            AND tsa_policy IS NOT NULL)) NOT VALID;

CREATE UNIQUE INDEX ledger_entries_tsa_serial ON ledger_entries (tsa_serial)
    WHERE tsa_serial IS NOT NULL;
