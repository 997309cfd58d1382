-- When each lead first reached each funnel step (a skipped step counts as reached when a
-- later one is), so reports read one row per lead instead of its history. Kept by the
-- store wherever the stage history, won deals and historical outcomes are written.
ALTER TABLE leads ADD COLUMN mql_at BIGINT;
ALTER TABLE leads ADD COLUMN sal_at BIGINT;
ALTER TABLE leads ADD COLUMN sql_at BIGINT;
ALTER TABLE leads ADD COLUMN converted_at BIGINT;
ALTER TABLE leads ADD COLUMN won_at BIGINT;

UPDATE leads SET
  mql_at = (SELECT MIN(at) FROM stage_history sh WHERE sh.lead_id = leads.id
            AND sh.to_stage IN ('mql', 'sal', 'sql', 'converted')),
  sal_at = (SELECT MIN(at) FROM stage_history sh WHERE sh.lead_id = leads.id
            AND sh.to_stage IN ('sal', 'sql', 'converted')),
  sql_at = (SELECT MIN(at) FROM stage_history sh WHERE sh.lead_id = leads.id
            AND sh.to_stage IN ('sql', 'converted')),
  converted_at = (SELECT MIN(at) FROM stage_history sh WHERE sh.lead_id = leads.id
            AND sh.to_stage = 'converted'),
  won_at = (SELECT MIN(t) FROM (
            SELECT closed_at AS t FROM opportunities op WHERE op.lead_id = leads.id
              AND op.stage = 'won' AND op.closed_at IS NOT NULL
            UNION ALL
            SELECT recorded_at AS t FROM lead_outcomes o WHERE o.lead_id = leads.id
              AND o.outcome = 'won') w);

UPDATE leads SET
  converted_at = CASE WHEN converted_at IS NULL OR converted_at > won_at THEN won_at ELSE converted_at END
  WHERE won_at IS NOT NULL;
UPDATE leads SET
  sql_at = CASE WHEN sql_at IS NULL OR sql_at > converted_at THEN converted_at ELSE sql_at END
  WHERE converted_at IS NOT NULL;
UPDATE leads SET
  sal_at = CASE WHEN sal_at IS NULL OR sal_at > sql_at THEN sql_at ELSE sal_at END
  WHERE sql_at IS NOT NULL;
UPDATE leads SET
  mql_at = CASE WHEN mql_at IS NULL OR mql_at > sal_at THEN sal_at ELSE mql_at END
  WHERE sal_at IS NOT NULL;

-- The lead reports (funnel, leads by period, cohorts, ROI) read only these columns of the
-- leads created in a period: a covering index lets them scan it instead of the wide rows.
CREATE INDEX leads_report ON leads(created_at, first_source, first_medium, first_campaign,
    owner_id, team_id, mql_at, sal_at, sql_at, converted_at, won_at) WHERE deleted_at IS NULL;
-- The newest activity's time, kept by the store where activities are written or moved:
-- the aging report reads it instead of looking for every lead's newest activity.
ALTER TABLE leads ADD COLUMN last_activity_at BIGINT;
UPDATE leads SET last_activity_at =
  (SELECT MAX(a.occurred_at) FROM activities a WHERE a.lead_id = leads.id);

-- Velocity and cohort reports read leads by when they became qualified.
CREATE INDEX leads_mql_at ON leads(mql_at) WHERE mql_at IS NOT NULL AND deleted_at IS NULL;
-- Won deals by close date (attribution, forecasting, sales reports).
CREATE INDEX opportunities_closed ON opportunities(closed_at) WHERE closed_at IS NOT NULL;
