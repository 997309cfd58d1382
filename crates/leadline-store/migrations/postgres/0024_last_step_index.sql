-- The latest moment a lead reached any funnel step (NULL when none): a report as of a past
-- day takes today's roll-up and corrects only the leads that moved on since, found here.
-- The expression must match analytics::asof::last_step(Backend::Postgres) exactly.
CREATE INDEX leads_last_step ON leads ((GREATEST(mql_at, sal_at, sql_at, converted_at, won_at)))
    WHERE deleted_at IS NULL;
