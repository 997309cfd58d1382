-- The response report as of a past moment corrects only the leads whose first-touch clock
-- started or was touched after it (running clocks come from sla_clocks_open): found
-- through these without reading every clock.
CREATE INDEX sla_clocks_started ON sla_clocks(started_at);
CREATE INDEX sla_clocks_touched ON sla_clocks(touched_at) WHERE touched_at IS NOT NULL;
