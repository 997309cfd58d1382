-- First-touch response roll-up: per UTC day of the lead's creation, first source, medium,
-- campaign, owner and team (the keys of lead_rollup), its first-touch clocks: how many, how
-- many were touched, the minutes from start to touch, how many were touched by the deadline
-- (met) and after it (late). Untouched clocks are clocks − touched; the report reads the few
-- still running (deadline ahead) through sla_clocks_open, so breached = late + untouched −
-- running. Kept like lead_rollup (0020): triggers on sla_clocks and on a lead's key append
-- deltas that `leadline serve` folds.
CREATE TABLE response_rollup (
    day BIGINT NOT NULL,
    source TEXT NOT NULL,
    medium TEXT NOT NULL,
    campaign TEXT NOT NULL,
    owner_id BLOB NOT NULL,
    team_id BLOB NOT NULL,
    clocks BIGINT NOT NULL,
    touched BIGINT NOT NULL,
    touch_minutes BIGINT NOT NULL,
    met BIGINT NOT NULL,
    late BIGINT NOT NULL,
    PRIMARY KEY (day, source, medium, campaign, owner_id, team_id)
);
CREATE TABLE response_rollup_deltas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day BIGINT NOT NULL,
    source TEXT NOT NULL,
    medium TEXT NOT NULL,
    campaign TEXT NOT NULL,
    owner_id BLOB NOT NULL,
    team_id BLOB NOT NULL,
    clocks BIGINT NOT NULL,
    touched BIGINT NOT NULL,
    touch_minutes BIGINT NOT NULL,
    met BIGINT NOT NULL,
    late BIGINT NOT NULL
);

INSERT INTO response_rollup (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late)
SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, x'00000000000000000000000000000000'), COALESCE(l.team_id, x'00000000000000000000000000000000'),
       COUNT(*), SUM(CASE WHEN c.touched_at IS NOT NULL THEN 1 ELSE 0 END), COALESCE(SUM((c.touched_at - c.started_at) / 60000000), 0), SUM(CASE WHEN c.touched_at <= c.due_at THEN 1 ELSE 0 END), SUM(CASE WHEN c.touched_at > c.due_at THEN 1 ELSE 0 END)
FROM sla_clocks c JOIN leads l ON l.id = c.lead_id AND l.deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER sla_clocks_response_ai AFTER INSERT ON sla_clocks BEGIN
    INSERT INTO response_rollup_deltas (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, x'00000000000000000000000000000000'), COALESCE(l.team_id, x'00000000000000000000000000000000'), +1, +(CASE WHEN NEW.touched_at IS NOT NULL THEN 1 ELSE 0 END), +COALESCE((NEW.touched_at - NEW.started_at) / 60000000, 0), +(CASE WHEN NEW.touched_at <= NEW.due_at THEN 1 ELSE 0 END), +(CASE WHEN NEW.touched_at > NEW.due_at THEN 1 ELSE 0 END)
    FROM leads l WHERE l.id = NEW.lead_id AND l.deleted_at IS NULL;
END;
CREATE TRIGGER sla_clocks_response_au AFTER UPDATE ON sla_clocks WHEN OLD.lead_id IS NOT NEW.lead_id OR OLD.started_at IS NOT NEW.started_at OR OLD.due_at IS NOT NEW.due_at OR OLD.touched_at IS NOT NEW.touched_at BEGIN
    INSERT INTO response_rollup_deltas (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, x'00000000000000000000000000000000'), COALESCE(l.team_id, x'00000000000000000000000000000000'), -1, -(CASE WHEN OLD.touched_at IS NOT NULL THEN 1 ELSE 0 END), -COALESCE((OLD.touched_at - OLD.started_at) / 60000000, 0), -(CASE WHEN OLD.touched_at <= OLD.due_at THEN 1 ELSE 0 END), -(CASE WHEN OLD.touched_at > OLD.due_at THEN 1 ELSE 0 END)
    FROM leads l WHERE l.id = OLD.lead_id AND l.deleted_at IS NULL;
    INSERT INTO response_rollup_deltas (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, x'00000000000000000000000000000000'), COALESCE(l.team_id, x'00000000000000000000000000000000'), +1, +(CASE WHEN NEW.touched_at IS NOT NULL THEN 1 ELSE 0 END), +COALESCE((NEW.touched_at - NEW.started_at) / 60000000, 0), +(CASE WHEN NEW.touched_at <= NEW.due_at THEN 1 ELSE 0 END), +(CASE WHEN NEW.touched_at > NEW.due_at THEN 1 ELSE 0 END)
    FROM leads l WHERE l.id = NEW.lead_id AND l.deleted_at IS NULL;
END;
CREATE TRIGGER sla_clocks_response_ad AFTER DELETE ON sla_clocks BEGIN
    INSERT INTO response_rollup_deltas (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, x'00000000000000000000000000000000'), COALESCE(l.team_id, x'00000000000000000000000000000000'), -1, -(CASE WHEN OLD.touched_at IS NOT NULL THEN 1 ELSE 0 END), -COALESCE((OLD.touched_at - OLD.started_at) / 60000000, 0), -(CASE WHEN OLD.touched_at <= OLD.due_at THEN 1 ELSE 0 END), -(CASE WHEN OLD.touched_at > OLD.due_at THEN 1 ELSE 0 END)
    FROM leads l WHERE l.id = OLD.lead_id AND l.deleted_at IS NULL;
END;
CREATE TRIGGER leads_response_au AFTER UPDATE ON leads WHEN OLD.created_at IS NOT NEW.created_at OR OLD.deleted_at IS NOT NEW.deleted_at OR OLD.first_source IS NOT NEW.first_source OR OLD.first_medium IS NOT NEW.first_medium OR OLD.first_campaign IS NOT NEW.first_campaign OR OLD.owner_id IS NOT NEW.owner_id OR OLD.team_id IS NOT NEW.team_id BEGIN
    INSERT INTO response_rollup_deltas (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late)
    SELECT CASE WHEN OLD.created_at >= 0 THEN OLD.created_at / 86400000000 ELSE (OLD.created_at + 1) / 86400000000 - 1 END, COALESCE(OLD.first_source, ''), COALESCE(OLD.first_medium, ''), COALESCE(OLD.first_campaign, ''), COALESCE(OLD.owner_id, x'00000000000000000000000000000000'), COALESCE(OLD.team_id, x'00000000000000000000000000000000'), -1, -(CASE WHEN c.touched_at IS NOT NULL THEN 1 ELSE 0 END), -COALESCE((c.touched_at - c.started_at) / 60000000, 0), -(CASE WHEN c.touched_at <= c.due_at THEN 1 ELSE 0 END), -(CASE WHEN c.touched_at > c.due_at THEN 1 ELSE 0 END)
    FROM sla_clocks c WHERE c.lead_id = OLD.id AND OLD.deleted_at IS NULL;
    INSERT INTO response_rollup_deltas (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late)
    SELECT CASE WHEN NEW.created_at >= 0 THEN NEW.created_at / 86400000000 ELSE (NEW.created_at + 1) / 86400000000 - 1 END, COALESCE(NEW.first_source, ''), COALESCE(NEW.first_medium, ''), COALESCE(NEW.first_campaign, ''), COALESCE(NEW.owner_id, x'00000000000000000000000000000000'), COALESCE(NEW.team_id, x'00000000000000000000000000000000'), +1, +(CASE WHEN c.touched_at IS NOT NULL THEN 1 ELSE 0 END), +COALESCE((c.touched_at - c.started_at) / 60000000, 0), +(CASE WHEN c.touched_at <= c.due_at THEN 1 ELSE 0 END), +(CASE WHEN c.touched_at > c.due_at THEN 1 ELSE 0 END)
    FROM sla_clocks c WHERE c.lead_id = NEW.id AND NEW.deleted_at IS NULL;
END;
