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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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

CREATE TRIGGER stage_history_rollup_ai AFTER INSERT ON stage_history BEGIN
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = NEW.lead_id), to_stage,
      -SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = NEW.lead_id AND sh.id <> NEW.id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = NEW.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = NEW.lead_id), to_stage,
      +SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = NEW.lead_id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = NEW.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
END;
CREATE TRIGGER stage_history_rollup_au AFTER UPDATE ON stage_history
WHEN OLD.lead_id IS NOT NEW.lead_id OR OLD.at IS NOT NEW.at OR OLD.to_stage IS NOT NEW.to_stage BEGIN
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = OLD.lead_id), to_stage,
      -SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = OLD.lead_id AND sh.id <> NEW.id UNION ALL SELECT OLD.to_stage, OLD.at, OLD.id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = OLD.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = OLD.lead_id), to_stage,
      +SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = OLD.lead_id AND sh.id <> NEW.id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = OLD.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = NEW.lead_id), to_stage,
      -SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = NEW.lead_id AND sh.id <> NEW.id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = NEW.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = NEW.lead_id), to_stage,
      +SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = NEW.lead_id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = NEW.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
END;
CREATE TRIGGER stage_history_rollup_ad AFTER DELETE ON stage_history BEGIN
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = OLD.lead_id), to_stage,
      -SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      -SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = OLD.lead_id UNION ALL SELECT OLD.to_stage, OLD.at, OLD.id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = OLD.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
    INSERT INTO stage_rollup_deltas (day, stage, ended, ended_seconds, current, current_at)
    SELECT (SELECT CASE WHEN dl.created_at >= 0 THEN dl.created_at / 86400000000 ELSE (dl.created_at + 1) / 86400000000 - 1 END FROM leads dl WHERE dl.id = OLD.lead_id), to_stage,
      +SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END),
      +SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END)
    FROM (SELECT to_stage, at, LEAD(at) OVER (ORDER BY at, id) AS next_at
          FROM (SELECT sh.to_stage, sh.at, sh.id FROM stage_history sh WHERE sh.lead_id = OLD.lead_id) h) x
    WHERE EXISTS (SELECT 1 FROM leads ll WHERE ll.id = OLD.lead_id AND ll.deleted_at IS NULL)
    GROUP BY to_stage;
END;
CREATE TRIGGER leads_stage_rollup_au AFTER UPDATE ON leads
WHEN OLD.deleted_at IS NOT NEW.deleted_at OR OLD.created_at IS NOT NEW.created_at BEGIN
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
END;
