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
    owner_id BLOB NOT NULL,
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

CREATE TRIGGER activities_aging_kept_ai AFTER INSERT ON activities
WHEN NEW.occurred_at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= NEW.occurred_at;
    DELETE FROM aging_kept_moments WHERE at >= NEW.occurred_at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER activities_aging_kept_ad AFTER DELETE ON activities
WHEN OLD.occurred_at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= OLD.occurred_at;
    DELETE FROM aging_kept_moments WHERE at >= OLD.occurred_at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER activities_aging_kept_au AFTER UPDATE OF occurred_at, lead_id ON activities
WHEN MIN(OLD.occurred_at, NEW.occurred_at) <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= MIN(OLD.occurred_at, NEW.occurred_at);
    DELETE FROM aging_kept_moments WHERE at >= MIN(OLD.occurred_at, NEW.occurred_at);
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;

-- A lead created by then, deleted or restored, counts (or not) in every moment since its
-- creation.
CREATE TRIGGER leads_aging_kept_ai AFTER INSERT ON leads
WHEN NEW.created_at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= NEW.created_at;
    DELETE FROM aging_kept_moments WHERE at >= NEW.created_at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER leads_aging_kept_ad AFTER DELETE ON leads
WHEN OLD.created_at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= OLD.created_at;
    DELETE FROM aging_kept_moments WHERE at >= OLD.created_at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER leads_aging_kept_au AFTER UPDATE OF created_at, deleted_at ON leads
WHEN (OLD.created_at IS NOT NEW.created_at OR OLD.deleted_at IS NOT NEW.deleted_at)
    AND MIN(OLD.created_at, NEW.created_at) <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= MIN(OLD.created_at, NEW.created_at);
    DELETE FROM aging_kept_moments WHERE at >= MIN(OLD.created_at, NEW.created_at);
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;

-- Stage and owner then are read from the histories.
CREATE TRIGGER stage_history_aging_kept_ai AFTER INSERT ON stage_history
WHEN NEW.at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= NEW.at;
    DELETE FROM aging_kept_moments WHERE at >= NEW.at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER stage_history_aging_kept_ad AFTER DELETE ON stage_history
WHEN OLD.at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= OLD.at;
    DELETE FROM aging_kept_moments WHERE at >= OLD.at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER stage_history_aging_kept_au AFTER UPDATE OF at, lead_id, from_stage, to_stage ON stage_history
WHEN MIN(OLD.at, NEW.at) <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= MIN(OLD.at, NEW.at);
    DELETE FROM aging_kept_moments WHERE at >= MIN(OLD.at, NEW.at);
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER owner_history_aging_kept_ai AFTER INSERT ON owner_history
WHEN NEW.at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= NEW.at;
    DELETE FROM aging_kept_moments WHERE at >= NEW.at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER owner_history_aging_kept_ad AFTER DELETE ON owner_history
WHEN OLD.at <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= OLD.at;
    DELETE FROM aging_kept_moments WHERE at >= OLD.at;
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER owner_history_aging_kept_au AFTER UPDATE OF at, lead_id, from_owner, to_owner ON owner_history
WHEN MIN(OLD.at, NEW.at) <= (SELECT horizon FROM aging_kept_state WHERE id = 1) BEGIN
    DELETE FROM aging_kept WHERE at >= MIN(OLD.at, NEW.at);
    DELETE FROM aging_kept_moments WHERE at >= MIN(OLD.at, NEW.at);
    UPDATE aging_kept_state SET version = version + 1 WHERE id = 1;
END;
