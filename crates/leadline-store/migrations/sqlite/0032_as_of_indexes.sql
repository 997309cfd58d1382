-- Reports as of a past moment correct the roll-ups by the leads that changed since. These
-- find them without visiting the tables: history rows after the moment with their lead,
-- and first-touch clocks started, or touched, after it (running clocks come from
-- sla_clocks_open; a clock touched since counts only if it had started by then).
DROP INDEX stage_history_at;
CREATE INDEX stage_history_at ON stage_history(at, lead_id);
DROP INDEX owner_history_at;
CREATE INDEX owner_history_at ON owner_history(at, lead_id);
CREATE INDEX sla_clocks_started ON sla_clocks(started_at, lead_id);
CREATE INDEX sla_clocks_touched ON sla_clocks(touched_at, started_at, lead_id)
    WHERE touched_at IS NOT NULL;
