-- Lead quality joins the roll-up (see 0020): how many leads have a score under the default
-- model, the scores' sum, the grade mix and how many are quarantined. The lead triggers now
-- add the lead's default score and quality finding to its contribution; triggers on
-- lead_scores, lead_quality and on switching the default model append their changes.
ALTER TABLE lead_rollup ADD COLUMN scored BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup ADD COLUMN score_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup ADD COLUMN grade_a BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup ADD COLUMN grade_b BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup ADD COLUMN grade_c BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup ADD COLUMN grade_d BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup ADD COLUMN grade_f BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup ADD COLUMN quarantined BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN scored BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN score_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN grade_a BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN grade_b BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN grade_c BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN grade_d BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN grade_f BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_rollup_deltas ADD COLUMN quarantined BIGINT NOT NULL DEFAULT 0;

-- The scores and findings of live leads so far, as deltas (the next fold adds them).
INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid),
       0, 0, 0, 0, 0, 0, 0, COUNT(*), SUM(s.score), SUM(CASE WHEN s.grade = 'A' THEN 1 ELSE 0 END), SUM(CASE WHEN s.grade = 'B' THEN 1 ELSE 0 END), SUM(CASE WHEN s.grade = 'C' THEN 1 ELSE 0 END), SUM(CASE WHEN s.grade = 'D' THEN 1 ELSE 0 END), SUM(CASE WHEN s.grade = 'F' THEN 1 ELSE 0 END), 0
FROM lead_scores s JOIN leads l ON l.id = s.lead_id AND l.deleted_at IS NULL
WHERE s.model_key = (SELECT m.key FROM scoring_models m WHERE m.is_default)
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid),
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, COUNT(*)
FROM lead_quality q JOIN leads l ON l.id = q.lead_id AND l.deleted_at IS NULL
WHERE q.action = 'quarantine'
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE OR REPLACE FUNCTION leads_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.deleted_at IS NULL THEN
            INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
            SELECT CASE WHEN OLD.created_at >= 0 THEN OLD.created_at / 86400000000 ELSE (OLD.created_at + 1) / 86400000000 - 1 END, COALESCE(OLD.first_source, ''), COALESCE(OLD.first_medium, ''), COALESCE(OLD.first_campaign, ''), COALESCE(OLD.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(OLD.team_id, '00000000-0000-0000-0000-000000000000'::uuid),
              -1, -(CASE WHEN OLD.mql_at IS NOT NULL THEN 1 ELSE 0 END), -(CASE WHEN OLD.sal_at IS NOT NULL THEN 1 ELSE 0 END), -(CASE WHEN OLD.sql_at IS NOT NULL THEN 1 ELSE 0 END), -(CASE WHEN OLD.converted_at IS NOT NULL THEN 1 ELSE 0 END), -(CASE WHEN OLD.won_at IS NOT NULL THEN 1 ELSE 0 END), -(CASE WHEN OLD.stage = 'disqualified' THEN 1 ELSE 0 END),
              -(CASE WHEN s.lead_id IS NOT NULL THEN 1 ELSE 0 END), -COALESCE(s.score, 0), -(CASE WHEN s.grade = 'A' THEN 1 ELSE 0 END), -(CASE WHEN s.grade = 'B' THEN 1 ELSE 0 END), -(CASE WHEN s.grade = 'C' THEN 1 ELSE 0 END), -(CASE WHEN s.grade = 'D' THEN 1 ELSE 0 END), -(CASE WHEN s.grade = 'F' THEN 1 ELSE 0 END),
              -(CASE WHEN q.action = 'quarantine' THEN 1 ELSE 0 END)
            FROM (SELECT 1 AS one) one
            LEFT JOIN lead_scores s ON s.lead_id = OLD.id
              AND s.model_key = (SELECT m.key FROM scoring_models m WHERE m.is_default)
            LEFT JOIN lead_quality q ON q.lead_id = OLD.id
            WHERE OLD.deleted_at IS NULL;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.deleted_at IS NULL THEN
            INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
            SELECT CASE WHEN NEW.created_at >= 0 THEN NEW.created_at / 86400000000 ELSE (NEW.created_at + 1) / 86400000000 - 1 END, COALESCE(NEW.first_source, ''), COALESCE(NEW.first_medium, ''), COALESCE(NEW.first_campaign, ''), COALESCE(NEW.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(NEW.team_id, '00000000-0000-0000-0000-000000000000'::uuid),
              +1, +(CASE WHEN NEW.mql_at IS NOT NULL THEN 1 ELSE 0 END), +(CASE WHEN NEW.sal_at IS NOT NULL THEN 1 ELSE 0 END), +(CASE WHEN NEW.sql_at IS NOT NULL THEN 1 ELSE 0 END), +(CASE WHEN NEW.converted_at IS NOT NULL THEN 1 ELSE 0 END), +(CASE WHEN NEW.won_at IS NOT NULL THEN 1 ELSE 0 END), +(CASE WHEN NEW.stage = 'disqualified' THEN 1 ELSE 0 END),
              +(CASE WHEN s.lead_id IS NOT NULL THEN 1 ELSE 0 END), +COALESCE(s.score, 0), +(CASE WHEN s.grade = 'A' THEN 1 ELSE 0 END), +(CASE WHEN s.grade = 'B' THEN 1 ELSE 0 END), +(CASE WHEN s.grade = 'C' THEN 1 ELSE 0 END), +(CASE WHEN s.grade = 'D' THEN 1 ELSE 0 END), +(CASE WHEN s.grade = 'F' THEN 1 ELSE 0 END),
              +(CASE WHEN q.action = 'quarantine' THEN 1 ELSE 0 END)
            FROM (SELECT 1 AS one) one
            LEFT JOIN lead_scores s ON s.lead_id = NEW.id
              AND s.model_key = (SELECT m.key FROM scoring_models m WHERE m.is_default)
            LEFT JOIN lead_quality q ON q.lead_id = NEW.id
            WHERE NEW.deleted_at IS NULL;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- Trigger conditions cannot hold subqueries on PostgreSQL: the default model is checked here.
CREATE FUNCTION lead_scores_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    dflt TEXT := (SELECT m.key FROM scoring_models m WHERE m.is_default);
BEGIN
    IF TG_OP = 'INSERT' AND NEW.model_key = dflt THEN
        INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
        SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid), 0, 0, 0, 0, 0, 0, 0, 1, NEW.score, (CASE WHEN NEW.grade = 'A' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'B' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'C' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'D' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'F' THEN 1 ELSE 0 END), 0
        FROM leads l WHERE l.id = NEW.lead_id AND l.deleted_at IS NULL;
    ELSIF TG_OP = 'UPDATE' AND NEW.model_key = dflt THEN
        INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
        SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid), 0, 0, 0, 0, 0, 0, 0, 0, NEW.score - OLD.score, (CASE WHEN NEW.grade = 'A' THEN 1 ELSE 0 END) - (CASE WHEN OLD.grade = 'A' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'B' THEN 1 ELSE 0 END) - (CASE WHEN OLD.grade = 'B' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'C' THEN 1 ELSE 0 END) - (CASE WHEN OLD.grade = 'C' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'D' THEN 1 ELSE 0 END) - (CASE WHEN OLD.grade = 'D' THEN 1 ELSE 0 END), (CASE WHEN NEW.grade = 'F' THEN 1 ELSE 0 END) - (CASE WHEN OLD.grade = 'F' THEN 1 ELSE 0 END), 0
        FROM leads l WHERE l.id = NEW.lead_id AND l.deleted_at IS NULL;
    ELSIF TG_OP = 'DELETE' AND OLD.model_key = dflt THEN
        INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
        SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid), 0, 0, 0, 0, 0, 0, 0, -1, -OLD.score, -(CASE WHEN OLD.grade = 'A' THEN 1 ELSE 0 END), -(CASE WHEN OLD.grade = 'B' THEN 1 ELSE 0 END), -(CASE WHEN OLD.grade = 'C' THEN 1 ELSE 0 END), -(CASE WHEN OLD.grade = 'D' THEN 1 ELSE 0 END), -(CASE WHEN OLD.grade = 'F' THEN 1 ELSE 0 END), 0
        FROM leads l WHERE l.id = OLD.lead_id AND l.deleted_at IS NULL;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lead_scores_rollup_ai AFTER INSERT ON lead_scores FOR EACH ROW
    EXECUTE FUNCTION lead_scores_rollup_delta();
CREATE TRIGGER lead_scores_rollup_au AFTER UPDATE ON lead_scores FOR EACH ROW
    WHEN (OLD.score IS DISTINCT FROM NEW.score OR OLD.grade IS DISTINCT FROM NEW.grade)
    EXECUTE FUNCTION lead_scores_rollup_delta();
CREATE TRIGGER lead_scores_rollup_ad AFTER DELETE ON lead_scores FOR EACH ROW
    EXECUTE FUNCTION lead_scores_rollup_delta();

CREATE FUNCTION lead_quality_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d INTEGER := 0;
    lead UUID;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.action = 'quarantine' THEN d := d - 1; END IF;
    IF TG_OP <> 'DELETE' AND NEW.action = 'quarantine' THEN d := d + 1; END IF;
    IF TG_OP = 'DELETE' THEN lead := OLD.lead_id; ELSE lead := NEW.lead_id; END IF;
    IF d <> 0 THEN
        INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
        SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, d
        FROM leads l WHERE l.id = lead AND l.deleted_at IS NULL;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lead_quality_rollup_aiud AFTER INSERT OR UPDATE OR DELETE ON lead_quality
    FOR EACH ROW EXECUTE FUNCTION lead_quality_rollup_delta();

-- Another default model: its scores replace the old one's (a grouped delta each way).
CREATE FUNCTION scoring_models_rollup_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_deltas (day, source, medium, campaign, owner_id, team_id, leads, mql, sal, sql_reached, converted, won, disqualified, scored, score_sum, grade_a, grade_b, grade_c, grade_d, grade_f, quarantined)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(l.team_id, '00000000-0000-0000-0000-000000000000'::uuid), 0, 0, 0, 0, 0, 0, 0,
           SUM((CASE WHEN NEW.is_default THEN 1 ELSE -1 END)), SUM((CASE WHEN NEW.is_default THEN 1 ELSE -1 END) * s.score),
           SUM(CASE WHEN s.grade = 'A' THEN (CASE WHEN NEW.is_default THEN 1 ELSE -1 END) ELSE 0 END), SUM(CASE WHEN s.grade = 'B' THEN (CASE WHEN NEW.is_default THEN 1 ELSE -1 END) ELSE 0 END), SUM(CASE WHEN s.grade = 'C' THEN (CASE WHEN NEW.is_default THEN 1 ELSE -1 END) ELSE 0 END), SUM(CASE WHEN s.grade = 'D' THEN (CASE WHEN NEW.is_default THEN 1 ELSE -1 END) ELSE 0 END), SUM(CASE WHEN s.grade = 'F' THEN (CASE WHEN NEW.is_default THEN 1 ELSE -1 END) ELSE 0 END), 0
    FROM lead_scores s JOIN leads l ON l.id = s.lead_id AND l.deleted_at IS NULL
    WHERE s.model_key = NEW.key
    GROUP BY 1, 2, 3, 4, 5, 6;
    RETURN NULL;
END
$$;
CREATE TRIGGER scoring_models_rollup_default AFTER UPDATE ON scoring_models FOR EACH ROW
    WHEN (OLD.is_default IS DISTINCT FROM NEW.is_default)
    EXECUTE FUNCTION scoring_models_rollup_default();
