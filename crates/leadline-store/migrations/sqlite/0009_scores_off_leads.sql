-- Scores live only in lead_scores (issue 6): lists read the default model's score and grade
-- from there. Writing them onto the lead as well made a full re-score rewrite every lead
-- (a wide row with a dozen indexes): 5,500 leads/s on PostgreSQL against 80,000 for the
-- narrow score rows. Keep in step with ../postgres/0009_scores_off_leads.sql.

DROP INDEX leads_score;
ALTER TABLE leads DROP COLUMN score;
ALTER TABLE leads DROP COLUMN grade;

-- Lists sorted by score walk this index (the default model's rows, by score, then lead).
DROP INDEX lead_scores_model;
CREATE INDEX lead_scores_rank ON lead_scores(model_key, score, lead_id);
