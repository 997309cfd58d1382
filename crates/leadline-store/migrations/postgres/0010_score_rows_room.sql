-- Room in each page of score rows (issue 6): a re-score after a rule change writes every
-- row again with its new version, mostly with the same score; with free space on the page
-- PostgreSQL updates such a row in place (a heap-only update, no index entries). Existing
-- pages gain the room as they are rewritten. Keep in step with ../sqlite/0010_score_rows_room.sql.
ALTER TABLE lead_scores SET (fillfactor = 70);
