-- The latest moment a lead reached any funnel step (0 when none): a report as of a past
-- day takes today's roll-up and corrects only the leads that moved on since, found here.
-- The expression must match analytics::rollup::moved_on_since (SQLite) exactly; the
-- creation and id make the index alone answer which leads of a report moved on.
CREATE INDEX leads_last_step ON leads(
    max(COALESCE(mql_at, 0), COALESCE(sal_at, 0), COALESCE(sql_at, 0),
        COALESCE(converted_at, 0), COALESCE(won_at, 0)), created_at, id)
    WHERE deleted_at IS NULL;

-- Lead velocity counts qualified leads by the moment they qualified and their first touch,
-- owner and team: all of it in the index, so the report never visits the table.
DROP INDEX leads_mql_at;
CREATE INDEX leads_mql_at ON leads(mql_at, first_source, first_medium, first_campaign, owner_id, team_id)
    WHERE mql_at IS NOT NULL AND deleted_at IS NULL;
