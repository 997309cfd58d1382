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
    owner_id UUID NOT NULL,
    team_id UUID NOT NULL,
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
    id BIGSERIAL PRIMARY KEY,
    day BIGINT NOT NULL,
    source TEXT NOT NULL,
    medium TEXT NOT NULL,
    campaign TEXT NOT NULL,
    owner_id UUID NOT NULL,
    team_id UUID NOT NULL,
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
       COALESCE(l.first_campaign, '') AS c, COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid) AS o, COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid) AS t,
       COUNT(*), COUNT(l.mql_at), COUNT(l.sal_at), COUNT(l.sql_at), COUNT(l.converted_at), COUNT(l.won_at),
       SUM(CASE WHEN l.stage = 'disqualified' THEN 1 ELSE 0 END)
FROM leads l WHERE l.deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE FUNCTION leads_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.deleted_at IS NULL THEN
            INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified)
            VALUES (CASE WHEN OLD.created_at >= 0 THEN OLD.created_at / 86400000000 ELSE (OLD.created_at + 1) / 86400000000 - 1 END, COALESCE(OLD.first_source, ''), COALESCE(OLD.first_medium, ''), COALESCE(OLD.first_campaign, ''), COALESCE(OLD.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(OLD.team_id, '00000000-0000-0000-0000-000000000000'::uuid), -1, -(OLD.mql_at IS NOT NULL)::int, -(OLD.sal_at IS NOT NULL)::int, -(OLD.sql_at IS NOT NULL)::int, -(OLD.converted_at IS NOT NULL)::int, -(OLD.won_at IS NOT NULL)::int, -(OLD.stage = 'disqualified')::int);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.deleted_at IS NULL THEN
            INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified)
            VALUES (CASE WHEN NEW.created_at >= 0 THEN NEW.created_at / 86400000000 ELSE (NEW.created_at + 1) / 86400000000 - 1 END, COALESCE(NEW.first_source, ''), COALESCE(NEW.first_medium, ''), COALESCE(NEW.first_campaign, ''), COALESCE(NEW.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(NEW.team_id, '00000000-0000-0000-0000-000000000000'::uuid), +1, +(NEW.mql_at IS NOT NULL)::int, +(NEW.sal_at IS NOT NULL)::int, +(NEW.sql_at IS NOT NULL)::int, +(NEW.converted_at IS NOT NULL)::int, +(NEW.won_at IS NOT NULL)::int, +(NEW.stage = 'disqualified')::int);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_rollup_ai AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION leads_rollup_delta();
CREATE TRIGGER leads_rollup_au AFTER UPDATE ON leads FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR OLD.first_source IS DISTINCT FROM NEW.first_source OR OLD.first_medium IS DISTINCT FROM NEW.first_medium OR OLD.first_campaign IS DISTINCT FROM NEW.first_campaign OR OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.mql_at IS DISTINCT FROM NEW.mql_at OR OLD.sal_at IS DISTINCT FROM NEW.sal_at OR OLD.sql_at IS DISTINCT FROM NEW.sql_at OR OLD.converted_at IS DISTINCT FROM NEW.converted_at OR OLD.won_at IS DISTINCT FROM NEW.won_at OR OLD.stage IS DISTINCT FROM NEW.stage)
    EXECUTE FUNCTION leads_rollup_delta();
CREATE TRIGGER leads_rollup_ad AFTER DELETE ON leads FOR EACH ROW EXECUTE FUNCTION leads_rollup_delta();
