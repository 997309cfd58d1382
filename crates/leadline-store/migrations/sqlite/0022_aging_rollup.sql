-- Aging roll-up: live leads per UTC hour of their last activity (or creation, without one),
-- stage and owner, kept like lead_rollup (0020) by triggers appending deltas that
-- `leadline serve` folds. The aging report reads whole hours from it and, for the few hours
-- an age bucket or stale limit cuts through (and the current one), the leads themselves
-- (through the index below).
CREATE TABLE aging_rollup (
    hour BIGINT NOT NULL,
    stage TEXT NOT NULL,
    owner_id BLOB NOT NULL,
    leads BIGINT NOT NULL,
    PRIMARY KEY (hour, stage, owner_id)
);
CREATE TABLE aging_rollup_deltas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hour BIGINT NOT NULL,
    stage TEXT NOT NULL,
    owner_id BLOB NOT NULL,
    leads BIGINT NOT NULL
);
CREATE INDEX leads_aging_ref ON leads (COALESCE(last_activity_at, created_at), stage, owner_id)
    WHERE deleted_at IS NULL;

INSERT INTO aging_rollup (hour, stage, owner_id, leads)
SELECT CASE WHEN COALESCE(l.last_activity_at, l.created_at) >= 0 THEN COALESCE(l.last_activity_at, l.created_at) / 3600000000 ELSE (COALESCE(l.last_activity_at, l.created_at) + 1) / 3600000000 - 1 END, l.stage, COALESCE(l.owner_id, x'00000000000000000000000000000000'), COUNT(*)
FROM leads l WHERE l.deleted_at IS NULL
GROUP BY 1, 2, 3;

CREATE TRIGGER leads_aging_ai AFTER INSERT ON leads WHEN NEW.deleted_at IS NULL BEGIN
    INSERT INTO aging_rollup_deltas (hour, stage, owner_id, leads)
    SELECT CASE WHEN COALESCE(NEW.last_activity_at, NEW.created_at) >= 0 THEN COALESCE(NEW.last_activity_at, NEW.created_at) / 3600000000 ELSE (COALESCE(NEW.last_activity_at, NEW.created_at) + 1) / 3600000000 - 1 END, NEW.stage, COALESCE(NEW.owner_id, x'00000000000000000000000000000000'), +1 WHERE NEW.deleted_at IS NULL;
END;
CREATE TRIGGER leads_aging_au AFTER UPDATE ON leads
WHEN OLD.deleted_at IS NOT NEW.deleted_at OR OLD.stage IS NOT NEW.stage OR OLD.owner_id IS NOT NEW.owner_id
    OR (CASE WHEN COALESCE(OLD.last_activity_at, OLD.created_at) >= 0 THEN COALESCE(OLD.last_activity_at, OLD.created_at) / 3600000000 ELSE (COALESCE(OLD.last_activity_at, OLD.created_at) + 1) / 3600000000 - 1 END) IS NOT (CASE WHEN COALESCE(NEW.last_activity_at, NEW.created_at) >= 0 THEN COALESCE(NEW.last_activity_at, NEW.created_at) / 3600000000 ELSE (COALESCE(NEW.last_activity_at, NEW.created_at) + 1) / 3600000000 - 1 END) BEGIN
    INSERT INTO aging_rollup_deltas (hour, stage, owner_id, leads)
    SELECT CASE WHEN COALESCE(OLD.last_activity_at, OLD.created_at) >= 0 THEN COALESCE(OLD.last_activity_at, OLD.created_at) / 3600000000 ELSE (COALESCE(OLD.last_activity_at, OLD.created_at) + 1) / 3600000000 - 1 END, OLD.stage, COALESCE(OLD.owner_id, x'00000000000000000000000000000000'), -1 WHERE OLD.deleted_at IS NULL;
    INSERT INTO aging_rollup_deltas (hour, stage, owner_id, leads)
    SELECT CASE WHEN COALESCE(NEW.last_activity_at, NEW.created_at) >= 0 THEN COALESCE(NEW.last_activity_at, NEW.created_at) / 3600000000 ELSE (COALESCE(NEW.last_activity_at, NEW.created_at) + 1) / 3600000000 - 1 END, NEW.stage, COALESCE(NEW.owner_id, x'00000000000000000000000000000000'), +1 WHERE NEW.deleted_at IS NULL;
END;
CREATE TRIGGER leads_aging_ad AFTER DELETE ON leads WHEN OLD.deleted_at IS NULL BEGIN
    INSERT INTO aging_rollup_deltas (hour, stage, owner_id, leads)
    SELECT CASE WHEN COALESCE(OLD.last_activity_at, OLD.created_at) >= 0 THEN COALESCE(OLD.last_activity_at, OLD.created_at) / 3600000000 ELSE (COALESCE(OLD.last_activity_at, OLD.created_at) + 1) / 3600000000 - 1 END, OLD.stage, COALESCE(OLD.owner_id, x'00000000000000000000000000000000'), -1 WHERE OLD.deleted_at IS NULL;
END;
