-- A lead's stage history in window order, with the stage entered: time in stage as of a past
-- moment reads the history of every lead whose stage changed since (55,000 leads, 169,000
-- rows for 30 days back at a million leads) and orders each lead's rows by (at, id). With
-- those columns in the index it reads no table row and sorts nothing (0.40 s → 0.25 s in
-- the shell). It replaces (lead_id, at), which every other reader of a lead's history uses
-- as a prefix.
DROP INDEX stage_history_lead;
CREATE INDEX stage_history_lead ON stage_history(lead_id, at, id, to_stage);
