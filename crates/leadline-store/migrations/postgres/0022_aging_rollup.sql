-- Aging roll-up: live leads per UTC hour of their last activity (or creation, without one),
-- stage and owner, kept like lead_rollup (0020) by triggers appending deltas that
-- `leadline serve` folds. The aging report reads whole hours from it and, for the few hours
-- an age bucket or stale limit cuts through (and the current one), the leads themselves
-- (through the index below).
CREATE TABLE aging_rollup (
    hour BIGINT NOT NULL,
    stage TEXT NOT NULL,
    owner_id UUID NOT NULL,
    leads BIGINT NOT NULL,
    PRIMARY KEY (hour, stage, owner_id)
);
CREATE TABLE aging_rollup_deltas (
    id BIGSERIAL PRIMARY KEY,
    hour BIGINT NOT NULL,
    stage TEXT NOT NULL,
    owner_id UUID NOT NULL,
    leads BIGINT NOT NULL
);
CREATE INDEX leads_aging_ref ON leads (COALESCE(last_activity_at, created_at), stage, owner_id)
    WHERE deleted_at IS NULL;

INSERT INTO aging_rollup (hour, stage, owner_id, leads)
SELECT CASE WHEN COALESCE(l.last_activity_at, l.created_at) >= 0 THEN COALESCE(l.last_activity_at, l.created_at) / 3600000000 ELSE (COALESCE(l.last_activity_at, l.created_at) + 1) / 3600000000 - 1 END, l.stage, COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COUNT(*)
FROM leads l WHERE l.deleted_at IS NULL
GROUP BY 1, 2, 3;

CREATE FUNCTION leads_aging_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
        INSERT INTO aging_rollup_deltas (hour, stage, owner_id, leads)
        VALUES (CASE WHEN COALESCE(OLD.last_activity_at, OLD.created_at) >= 0 THEN COALESCE(OLD.last_activity_at, OLD.created_at) / 3600000000 ELSE (COALESCE(OLD.last_activity_at, OLD.created_at) + 1) / 3600000000 - 1 END, OLD.stage, COALESCE(OLD.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
        INSERT INTO aging_rollup_deltas (hour, stage, owner_id, leads)
        VALUES (CASE WHEN COALESCE(NEW.last_activity_at, NEW.created_at) >= 0 THEN COALESCE(NEW.last_activity_at, NEW.created_at) / 3600000000 ELSE (COALESCE(NEW.last_activity_at, NEW.created_at) + 1) / 3600000000 - 1 END, NEW.stage, COALESCE(NEW.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), +1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_aging_ai AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION leads_aging_delta();
CREATE TRIGGER leads_aging_au AFTER UPDATE ON leads FOR EACH ROW
    WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR OLD.stage IS DISTINCT FROM NEW.stage OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
        OR (CASE WHEN COALESCE(OLD.last_activity_at, OLD.created_at) >= 0 THEN COALESCE(OLD.last_activity_at, OLD.created_at) / 3600000000 ELSE (COALESCE(OLD.last_activity_at, OLD.created_at) + 1) / 3600000000 - 1 END) IS DISTINCT FROM (CASE WHEN COALESCE(NEW.last_activity_at, NEW.created_at) >= 0 THEN COALESCE(NEW.last_activity_at, NEW.created_at) / 3600000000 ELSE (COALESCE(NEW.last_activity_at, NEW.created_at) + 1) / 3600000000 - 1 END))
    EXECUTE FUNCTION leads_aging_delta();
CREATE TRIGGER leads_aging_ad AFTER DELETE ON leads FOR EACH ROW EXECUTE FUNCTION leads_aging_delta();
