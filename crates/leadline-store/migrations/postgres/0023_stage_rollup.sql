-- Time in stage roll-up: per UTC day of the lead's creation and stage, the stays that
-- ended (count, seconds) and the current ones (count, sum of their start in seconds, so the
-- time so far is count × now − sum). Each change of a lead's stage history (or of the lead's
-- creation day or deletion) appends minus the lead's stays before and plus after, so rows
-- arriving out of order or moved by a merge are counted right. Folded with lead_rollup.
CREATE TABLE stage_rollup (
    day BIGINT NOT NULL,
    stage TEXT NOT NULL,
    ended BIGINT NOT NULL,
    ended_seconds BIGINT NOT NULL,
    current BIGINT NOT NULL,
    current_at BIGINT NOT NULL,
    PRIMARY KEY (day, stage)
);
CREATE TABLE stage_rollup_deltas (
    id BIGSERIAL PRIMARY KEY,
    day BIGINT NOT NULL,
    stage TEXT NOT NULL,
    ended BIGINT NOT NULL,
    ended_seconds BIGINT NOT NULL,
    current BIGINT NOT NULL,
    current_at BIGINT NOT NULL
);

INSERT INTO stage_rollup (day, stage, ended, ended_seconds, current, current_at)
SELECT d, to_stage,
  SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
  SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
FROM (SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END AS d, sh.to_stage, sh.at,
        LEAD(sh.at) OVER (PARTITION BY sh.lead_id ORDER BY sh.at, sh.id) AS next_at
      FROM stage_history sh JOIN leads l ON l.id = sh.lead_id AND l.deleted_at IS NULL) x
GROUP BY d, to_stage;

CREATE FUNCTION stage_history_rollup_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- LATERAL: each touched lead's history through its index, never a scan of all history.
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, x.to_stage,
      SUM(x.sign * CASE WHEN x.next_at IS NOT NULL THEN 1 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NOT NULL THEN (x.next_at - x.at) / 1000000 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NULL THEN 1 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NULL THEN x.at / 1000000 ELSE 0 END)
    FROM (SELECT DISTINCT lead_id FROM (SELECT lead_id FROM new_rows) u) a
    JOIN leads l ON l.id = a.lead_id AND l.deleted_at IS NULL
    CROSS JOIN LATERAL (
          SELECT -1 AS sign, h.to_stage, h.at,
            LEAD(h.at) OVER (ORDER BY h.at, h.id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = a.lead_id AND sh.id NOT IN (SELECT id FROM new_rows)) h
          UNION ALL
          SELECT 1, sh.to_stage, sh.at, LEAD(sh.at) OVER (ORDER BY sh.at, sh.id)
          FROM stage_history sh WHERE sh.lead_id = a.lead_id) x
    GROUP BY 1, 2;
    RETURN NULL;
END
$$;

CREATE FUNCTION stage_history_rollup_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- LATERAL: each touched lead's history through its index, never a scan of all history.
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, x.to_stage,
      SUM(x.sign * CASE WHEN x.next_at IS NOT NULL THEN 1 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NOT NULL THEN (x.next_at - x.at) / 1000000 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NULL THEN 1 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NULL THEN x.at / 1000000 ELSE 0 END)
    FROM (SELECT DISTINCT lead_id FROM (SELECT lead_id FROM old_rows UNION SELECT lead_id FROM new_rows) u) a
    JOIN leads l ON l.id = a.lead_id AND l.deleted_at IS NULL
    CROSS JOIN LATERAL (
          SELECT -1 AS sign, h.to_stage, h.at,
            LEAD(h.at) OVER (ORDER BY h.at, h.id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = a.lead_id AND sh.id NOT IN (SELECT id FROM new_rows)
                  UNION ALL SELECT o.to_stage, o.at, o.id FROM old_rows o WHERE o.lead_id = a.lead_id) h
          UNION ALL
          SELECT 1, sh.to_stage, sh.at, LEAD(sh.at) OVER (ORDER BY sh.at, sh.id)
          FROM stage_history sh WHERE sh.lead_id = a.lead_id) x
    GROUP BY 1, 2;
    RETURN NULL;
END
$$;

CREATE FUNCTION stage_history_rollup_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- LATERAL: each touched lead's history through its index, never a scan of all history.
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 ELSE (l.created_at + 1) / 86400000000 - 1 END, x.to_stage,
      SUM(x.sign * CASE WHEN x.next_at IS NOT NULL THEN 1 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NOT NULL THEN (x.next_at - x.at) / 1000000 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NULL THEN 1 ELSE 0 END),
      SUM(x.sign * CASE WHEN x.next_at IS NULL THEN x.at / 1000000 ELSE 0 END)
    FROM (SELECT DISTINCT lead_id FROM (SELECT lead_id FROM old_rows) u) a
    JOIN leads l ON l.id = a.lead_id AND l.deleted_at IS NULL
    CROSS JOIN LATERAL (
          SELECT -1 AS sign, h.to_stage, h.at,
            LEAD(h.at) OVER (ORDER BY h.at, h.id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = a.lead_id
                  UNION ALL SELECT o.to_stage, o.at, o.id FROM old_rows o WHERE o.lead_id = a.lead_id) h
          UNION ALL
          SELECT 1, sh.to_stage, sh.at, LEAD(sh.at) OVER (ORDER BY sh.at, sh.id)
          FROM stage_history sh WHERE sh.lead_id = a.lead_id) x
    GROUP BY 1, 2;
    RETURN NULL;
END
$$;

CREATE TRIGGER stage_history_rollup_ai AFTER INSERT ON stage_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_history_rollup_ins();
CREATE TRIGGER stage_history_rollup_au AFTER UPDATE ON stage_history
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_history_rollup_upd();
CREATE TRIGGER stage_history_rollup_ad AFTER DELETE ON stage_history
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_history_rollup_del();

-- A lead's creation day or deletion: its stays leave the old group, join the new one
-- (reading only this lead's history: correct at the statement's end too).
CREATE FUNCTION leads_stage_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
        SELECT CASE WHEN OLD.created_at >= 0 THEN OLD.created_at / 86400000000 ELSE (OLD.created_at + 1) / 86400000000 - 1 END, to_stage,
          -SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
          -SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
          -SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
          -SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
        FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
              FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = OLD.id) h) x
        WHERE OLD.deleted_at IS NULL
        GROUP BY to_stage;
        INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
        SELECT CASE WHEN NEW.created_at >= 0 THEN NEW.created_at / 86400000000 ELSE (NEW.created_at + 1) / 86400000000 - 1 END, to_stage,
          +SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
          +SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
          +SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
          +SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
        FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
              FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = NEW.id) h) x
        WHERE NEW.deleted_at IS NULL
        GROUP BY to_stage;
        RETURN NULL;
END
$$;
CREATE TRIGGER leads_stage_rollup_au AFTER UPDATE ON leads FOR EACH ROW
    WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION leads_stage_rollup_delta();
