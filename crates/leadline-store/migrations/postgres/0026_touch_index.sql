-- Attribution reads the marketing touches (clicks, and activities carrying UTM parameters)
-- of the leads behind won deals: one activity in ten, indexed on their own so the report
-- does not read every activity of those leads. The predicate must match
-- analytics::sales::won_touches exactly.
CREATE INDEX activities_touches ON activities(lead_id, occurred_at)
    WHERE kind IN ('email_clicked', 'link_clicked') OR CAST(properties AS TEXT) LIKE '%utm_source%';
