-- The latest moment a lead reached any funnel step (NULL when none): a report as of a past
-- day takes today's roll-up and corrects only the leads that moved on since, found here.
-- The expression must match analytics::rollup::moved_on_since (PostgreSQL) exactly; the
-- creation and id make the index alone answer which leads of a report moved on.
CREATE INDEX leads_last_step ON leads ((GREATEST(mql_at, sal_at, sql_at, converted_at, won_at)), created_at, id)
    WHERE deleted_at IS NULL;

-- Lead velocity counts qualified leads by the moment they qualified and their first touch,
-- owner and team: all of it in the index, so the report never visits the table.
DROP INDEX leads_mql_at;
CREATE INDEX leads_mql_at ON leads(mql_at, first_source, first_medium, first_campaign, owner_id, team_id)
    WHERE mql_at IS NOT NULL AND deleted_at IS NULL;

-- The leads that moved on since a moment were mostly created shortly before it: without
-- statistics on the pair the planner expects twenty times too many and reads the whole
-- table (PostgreSQL 14 or later).
CREATE STATISTICS leads_last_step_created (mcv, dependencies)
    ON (GREATEST(mql_at, sal_at, sql_at, converted_at, won_at)), created_at FROM leads;
