-- 0010: a key version changes only through the recorded path.  seald's
-- role could set a version's state to anything (re-activate a retired
-- one, bring back a disabled one) and add versions, with nothing in the
-- ledger saying so.  Now, for every role but a superuser who disables the
-- triggers:
--
--   - a state moves only forward, as docs/keys.md says:
--       pending  -> active, retired, disabled
--       active   -> retired, disabled
--       retired  -> disabled
--       disabled -> destroyed
--   - a version is added or changed (state, certificate) only in the
--     transaction that also records a 'key' entry of that key in the
--     ledger: seald's BEGIN, apply, INSERT, COMMIT.  Checked at COMMIT.
CREATE FUNCTION keys_state_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT (
        (OLD.state = 'pending' AND NEW.state IN ('active', 'retired', 'disabled'))
        OR (OLD.state = 'active' AND NEW.state IN ('retired', 'disabled'))
        OR (OLD.state = 'retired' AND NEW.state = 'disabled')
        OR (OLD.state = 'disabled' AND NEW.state = 'destroyed')) THEN
        RAISE EXCEPTION 'key % v%: % -> % is not a step of its life',
            OLD.name, OLD.version, OLD.state, NEW.state
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER keys_state
    BEFORE UPDATE ON keys
    FOR EACH ROW EXECUTE FUNCTION keys_state_forward();

CREATE FUNCTION keys_recorded() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_entries
        WHERE kind = 'key' AND key_name = NEW.name
        AND xmin = (txid_current() % 4294967296)::text::xid) THEN
        RAISE EXCEPTION 'key % v%: changed without its ledger entry',
            NEW.name, NEW.version
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER keys_recorded
    AFTER INSERT OR UPDATE ON keys
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION keys_recorded();
