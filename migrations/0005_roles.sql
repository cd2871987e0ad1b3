-- 0005: least privilege.  seald_writer may read and append (the daemon
-- connects as a login role that is a member of it); seald_auditor may only
-- read (sealctl ledger verify).  Neither owns the tables, so neither can
-- disable the append-only triggers.  Roles belong to the whole cluster:
-- they are created once (the migrating role needs CREATEROLE for that, or
-- a superuser creates them beforehand) and granted per database.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'seald_writer') THEN
        CREATE ROLE seald_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'seald_auditor') THEN
        CREATE ROLE seald_auditor NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON ledger_entries, ledger_checkpoints, ledger_merkle,
    schema_migrations FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_entries, ledger_checkpoints, ledger_merkle
    TO seald_writer;
GRANT SELECT ON schema_migrations TO seald_writer;
GRANT SELECT ON ledger_entries, ledger_checkpoints, ledger_merkle,
    schema_migrations TO seald_auditor;
