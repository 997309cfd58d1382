-- Quality as of a past moment corrects the leads whose stage then was `disqualified` and is
-- not now: the rows that left it (0031) carry their lead, so that part reads no table. (The
-- disqualified leads created by then come from `leads_stage (stage, created_at)`; a partial
-- index like PostgreSQL's was not chosen by SQLite's planner and gained nothing when forced.)
DROP INDEX stage_history_left_disqualified;
CREATE INDEX stage_history_left_disqualified ON stage_history(at, lead_id)
    WHERE from_stage = 'disqualified';
