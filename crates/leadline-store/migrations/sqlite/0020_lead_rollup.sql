-- Incremental roll-up of the lead reports (funnel, leads by period, cohorts, ROI): leads per
-- UTC day of creation and first touch / owner / team, with how many of them have reached
-- each funnel step (and are disqualified) now. Triggers on `leads` append a delta per change
-- (minus the old row's contribution, plus the new one's) to `lead_rollup_deltas`, so
-- concurrent writers never wait on a shared counter row; the store folds the deltas into
-- `lead_rollup` in the background and readers add up both tables. A missing owner or team is
-- the nil UUID (key columns cannot be NULL in a primary key).
CREATE TABLE lead_rollup (
    day BIGINT NOT NULL,
    source TEXT NOT NULL,
    medium TEXT NOT NULL,
    campaign TEXT NOT NULL,
    owner_id BLOB NOT NULL,
    team_id BLOB NOT NULL,
    leads BIGINT NOT NULL,
    mql BIGINT NOT NULL,
    sal BIGINT NOT NULL,
    sql_reached BIGINT NOT NULL,
    converted BIGINT NOT NULL,
    won BIGINT NOT NULL,
    disqualified BIGINT NOT NULL,
    PRIMARY KEY (day, source, medium, campaign, owner_id, team_id)
);
CREATE TABLE lead_rollup_deltas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day BIGINT NOT NULL,
    source TEXT NOT NULL,
    medium TEXT NOT NULL,
    campaign TEXT NOT NULL,
    owner_id BLOB NOT NULL,
    team_id BLOB NOT NULL,
    leads BIGINT NOT NULL,
    mql BIGINT NOT NULL,
    sal BIGINT NOT NULL,
    sql_reached BIGINT NOT NULL,
    converted BIGINT NOT NULL,
    won BIGINT NOT NULL,
    disqualified BIGINT NOT NULL
);

INSERT INTO lead_rollup (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified)
SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END AS d, COALESCE(l.first_source, '') AS s, COALESCE(l.first_medium, '') AS m,
       COALESCE(l.first_campaign, '') AS c, COALESCE(l.owner_id, x'00000000000000000000000000000000') AS o, COALESCE(l.team_id, x'00000000000000000000000000000000') AS t,
       COUNT(*), COUNT(l.mql_at), COUNT(l.sal_at), COUNT(l.sql_at), COUNT(l.converted_at), COUNT(l.won_at),
       SUM(CASE WHEN l.stage = 'disqualified' THEN 1 ELSE 0 END)
FROM leads l WHERE l.deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER leads_rollup_ai AFTER INSERT ON leads WHEN NEW.deleted_at IS NULL BEGIN
    INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified)
    SELECT CASE WHEN NEW.created_at >= 0 THEN NEW.created_at / 86400000000 ELSE (NEW.created_at + 1) / 86400000000 - 1 END, COALESCE(NEW.first_source, ''), COALESCE(NEW.first_medium, ''), COALESCE(NEW.first_campaign, ''), COALESCE(NEW.owner_id, x'00000000000000000000000000000000'), COALESCE(NEW.team_id, x'00000000000000000000000000000000'), +1, +(NEW.mql_at IS NOT NULL), +(NEW.sal_at IS NOT NULL), +(NEW.sql_at IS NOT NULL), +(NEW.converted_at IS NOT NULL), +(NEW.won_at IS NOT NULL), +(NEW.stage = 'disqualified')
    WHERE NEW.deleted_at IS NULL;
END;
CREATE TRIGGER leads_rollup_au AFTER UPDATE ON leads WHEN OLD.created_at IS NOT NEW.created_at OR OLD.deleted_at IS NOT NEW.deleted_at OR OLD.first_source IS NOT NEW.first_source OR OLD.first_medium IS NOT NEW.first_medium OR OLD.first_campaign IS NOT NEW.first_campaign OR OLD.owner_id IS NOT NEW.owner_id OR OLD.team_id IS NOT NEW.team_id OR OLD.mql_at IS NOT NEW.mql_at OR OLD.sal_at IS NOT NEW.sal_at OR OLD.sql_at IS NOT NEW.sql_at OR OLD.converted_at IS NOT NEW.converted_at OR OLD.won_at IS NOT NEW.won_at OR OLD.stage IS NOT NEW.stage BEGIN
    INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified)
    SELECT CASE WHEN OLD.created_at >= 0 THEN OLD.created_at / 86400000000 ELSE (OLD.created_at + 1) / 86400000000 - 1 END, COALESCE(OLD.first_source, ''), COALESCE(OLD.first_medium, ''), COALESCE(OLD.first_campaign, ''), COALESCE(OLD.owner_id, x'00000000000000000000000000000000'), COALESCE(OLD.team_id, x'00000000000000000000000000000000'), -1, -(OLD.mql_at IS NOT NULL), -(OLD.sal_at IS NOT NULL), -(OLD.sql_at IS NOT NULL), -(OLD.converted_at IS NOT NULL), -(OLD.won_at IS NOT NULL), -(OLD.stage = 'disqualified')
    WHERE OLD.deleted_at IS NULL;
    INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified)
    SELECT CASE WHEN NEW.created_at >= 0 THEN NEW.created_at / 86400000000 ELSE (NEW.created_at + 1) / 86400000000 - 1 END, COALESCE(NEW.first_source, ''), COALESCE(NEW.first_medium, ''), COALESCE(NEW.first_campaign, ''), COALESCE(NEW.owner_id, x'00000000000000000000000000000000'), COALESCE(NEW.team_id, x'00000000000000000000000000000000'), +1, +(NEW.mql_at IS NOT NULL), +(NEW.sal_at IS NOT NULL), +(NEW.sql_at IS NOT NULL), +(NEW.converted_at IS NOT NULL), +(NEW.won_at IS NOT NULL), +(NEW.stage = 'disqualified')
    WHERE NEW.deleted_at IS NULL;
END;
CREATE TRIGGER leads_rollup_ad AFTER DELETE ON leads WHEN OLD.deleted_at IS NULL BEGIN
    INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified)
    SELECT CASE WHEN OLD.created_at >= 0 THEN OLD.created_at / 86400000000 ELSE (OLD.created_at + 1) / 86400000000 - 1 END, COALESCE(OLD.first_source, ''), COALESCE(OLD.first_medium, ''), COALESCE(OLD.first_campaign, ''), COALESCE(OLD.owner_id, x'00000000000000000000000000000000'), COALESCE(OLD.team_id, x'00000000000000000000000000000000'), -1, -(OLD.mql_at IS NOT NULL), -(OLD.sal_at IS NOT NULL), -(OLD.sql_at IS NOT NULL), -(OLD.converted_at IS NOT NULL), -(OLD.won_at IS NOT NULL), -(OLD.stage = 'disqualified')
    WHERE OLD.deleted_at IS NULL;
END;
