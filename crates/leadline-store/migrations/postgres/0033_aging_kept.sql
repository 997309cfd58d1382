-- Aging as of past moments, kept once computed. The aging report for a moment in the past
-- needs each lead's last activity before it (a probe per lead active since: seconds at a
-- million leads); what it finds changes only through writes dated at or before the moment.
-- The triggers below drop what was kept from such a write's date on and count the drop in
-- `version`, so a computation that overlapped one does not keep its result (see
-- leadline-store/src/aging.rs). `horizon` is the latest moment kept or being computed:
-- writes after it (nearly all: they are dated now) skip the triggers' work.
CREATE TABLE aging_kept_moments (
    at BIGINT NOT NULL,
    policy TEXT NOT NULL,
    kept_at BIGINT NOT NULL,
    PRIMARY KEY (at, policy)
);
CREATE TABLE aging_kept (
    at BIGINT NOT NULL,
    policy TEXT NOT NULL,
    stage TEXT NOT NULL,
    owner_id UUID NOT NULL,
    bucket INTEGER NOT NULL,
    stale INTEGER NOT NULL,
    leads BIGINT NOT NULL,
    PRIMARY KEY (at, policy, stage, owner_id, bucket, stale)
);
CREATE TABLE aging_kept_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    horizon BIGINT NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO aging_kept_state (id, horizon, version) VALUES (1, -9223372036854775808, 0);

-- Drops what was kept for moments at or after `since` when any was (or is being) kept.
CREATE FUNCTION aging_kept_drop(since BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF since <= (SELECT horizon FROM aging_kept_state WHERE id = 1) THEN
        DELETE FROM aging_kept WHERE at >= since;
        DELETE FROM aging_kept_moments WHERE at >= since;
        UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
    END IF;
END $$;

CREATE FUNCTION activities_aging_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM aging_kept_drop(NEW.occurred_at);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM aging_kept_drop(OLD.occurred_at);
    ELSE
        PERFORM aging_kept_drop(LEAST(OLD.occurred_at, NEW.occurred_at));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER activities_aging_kept AFTER INSERT OR DELETE OR UPDATE OF occurred_at, lead_id
    ON activities FOR EACH ROW EXECUTE FUNCTION activities_aging_kept();

-- A lead created by then, deleted or restored, counts (or not) in every moment since its
-- creation.
CREATE FUNCTION leads_aging_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM aging_kept_drop(NEW.created_at);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM aging_kept_drop(OLD.created_at);
    ELSE
        PERFORM aging_kept_drop(LEAST(OLD.created_at, NEW.created_at));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER leads_aging_kept_i AFTER INSERT OR DELETE ON leads
    FOR EACH ROW EXECUTE FUNCTION leads_aging_kept();
CREATE TRIGGER leads_aging_kept_u AFTER UPDATE OF created_at, deleted_at ON leads
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
                       OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION leads_aging_kept();

-- Stage and owner then are read from the histories.
CREATE FUNCTION history_aging_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM aging_kept_drop(NEW.at);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM aging_kept_drop(OLD.at);
    ELSE
        PERFORM aging_kept_drop(LEAST(OLD.at, NEW.at));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER stage_history_aging_kept
    AFTER INSERT OR DELETE OR UPDATE OF at, lead_id, from_stage, to_stage
    ON stage_history FOR EACH ROW EXECUTE FUNCTION history_aging_kept();
CREATE TRIGGER owner_history_aging_kept
    AFTER INSERT OR DELETE OR UPDATE OF at, lead_id, from_owner, to_owner
    ON owner_history FOR EACH ROW EXECUTE FUNCTION history_aging_kept();
