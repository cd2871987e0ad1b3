-- 0009: the writer role writes only what seald writes.  Appending was all
-- seald_writer could do, but it could append anything: rows of
-- ledger_merkle for positions no entry has reached (every later commit of
-- seald's then failed on a duplicate key), entries out of sequence,
-- checkpoints of entries that do not exist.  Each row is now checked
-- against what is already there, at the end of the statement that inserts
-- it (so that seald's one statement per batch, entries and subtrees
-- together, passes), for every role but a superuser who disables the
-- triggers; a refused row fails the whole statement.
--
--   ledger_entries      seq 1 links to 32 zero bytes, any other seq to the
--                       entry_hash of seq - 1 of its instance
--   ledger_merkle       a row is the hash of the two below it (RFC 9162:
--                       0x01 || left || right; at level 1 the two leaves,
--                       0x00 || entry_hash), which must exist
--   ledger_checkpoints  names an entry of its instance, with its hash
CREATE FUNCTION ledger_entry_links() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    IF NEW.seq = 1 THEN
        prev := '\x0000000000000000000000000000000000000000000000000000000000000000';
    ELSE
        SELECT entry_hash INTO prev FROM ledger_entries
            WHERE instance = NEW.instance AND seq = NEW.seq - 1;
    END IF;
    IF prev IS NULL OR NEW.prev_hash <> prev THEN
        RAISE EXCEPTION 'ledger_entries: seq % of % does not follow its chain (entry % missing, or not its prev_hash)',
            NEW.seq, NEW.instance, NEW.seq - 1
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_entries_links
    AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_links();

CREATE FUNCTION ledger_merkle_derived() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    l bytea;
    r bytea;
BEGIN
    IF NEW.level = 1 THEN
        SELECT sha256('\x00'::bytea || entry_hash) INTO l FROM ledger_entries
            WHERE instance = NEW.instance AND seq = 2 * NEW.idx + 1;
        SELECT sha256('\x00'::bytea || entry_hash) INTO r FROM ledger_entries
            WHERE instance = NEW.instance AND seq = 2 * NEW.idx + 2;
    ELSE
        SELECT hash INTO l FROM ledger_merkle
            WHERE instance = NEW.instance AND level = NEW.level - 1
            AND idx = 2 * NEW.idx;
        SELECT hash INTO r FROM ledger_merkle
            WHERE instance = NEW.instance AND level = NEW.level - 1
            AND idx = 2 * NEW.idx + 1;
    END IF;
    IF l IS NULL OR r IS NULL OR NEW.hash <> sha256('\x01'::bytea || l || r) THEN
        RAISE EXCEPTION 'ledger_merkle: (%, level %, idx %) is not the subtree of the entries below it',
            NEW.instance, NEW.level, NEW.idx
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_merkle_derived
    AFTER INSERT ON ledger_merkle
    FOR EACH ROW EXECUTE FUNCTION ledger_merkle_derived();

CREATE FUNCTION ledger_checkpoint_names_entry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_entries
            WHERE instance = NEW.instance AND seq = NEW.seq
            AND entry_hash = NEW.entry_hash) THEN
        RAISE EXCEPTION 'ledger_checkpoints: seq % of % names no entry with that hash',
            NEW.seq, NEW.instance
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_checkpoints_names_entry
    AFTER INSERT ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_checkpoint_names_entry();
