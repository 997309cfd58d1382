-- PostgreSQL leaves room in each page of score rows for in-place updates (fillfactor);
-- SQLite has no such setting. The migration exists so both engines share version numbers.
-- Keep in step with ../postgres/0010_score_rows_room.sql.
SELECT 1;
