-- A report as of a past moment corrects its roll-up by the leads whose owner changed, or
-- whose first-touch clock started, after the moment, among the leads created by then. Most
-- such rows are of leads created since (an assignment and a clock for every new lead), and
-- telling them apart took an anti-join to the leads created since for each row. Each row
-- now carries its lead's creation time, beside the moment in one index, so the rows that
-- matter are picked inside the index. The triggers keep the copy equal to the lead's (rows
-- move to another lead on a merge; a lead's creation time is never rewritten, but if it
-- were its copies, and the deals' of 0036, would follow).
ALTER TABLE sla_clocks ADD COLUMN lead_created_at BIGINT;
UPDATE sla_clocks c SET lead_created_at = l.created_at FROM leads l WHERE l.id = c.lead_id;
ALTER TABLE owner_history ADD COLUMN lead_created_at BIGINT;
UPDATE owner_history h SET lead_created_at = l.created_at FROM leads l WHERE l.id = h.lead_id;

CREATE FUNCTION row_lead_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT l.created_at INTO NEW.lead_created_at FROM leads l WHERE l.id = NEW.lead_id;
    RETURN NEW;
END $$;
-- Set in the row being written, unless the store wrote it already.
CREATE TRIGGER sla_clocks_lead_created BEFORE INSERT ON sla_clocks FOR EACH ROW
    WHEN (NEW.lead_created_at IS NULL) EXECUTE FUNCTION row_lead_created();
CREATE TRIGGER sla_clocks_lead_moved BEFORE UPDATE OF lead_id ON sla_clocks FOR EACH ROW
    WHEN (OLD.lead_id IS DISTINCT FROM NEW.lead_id) EXECUTE FUNCTION row_lead_created();
CREATE TRIGGER owner_history_lead_created BEFORE INSERT ON owner_history FOR EACH ROW
    WHEN (NEW.lead_created_at IS NULL) EXECUTE FUNCTION row_lead_created();
CREATE TRIGGER owner_history_lead_moved BEFORE UPDATE OF lead_id ON owner_history
    FOR EACH ROW WHEN (OLD.lead_id IS DISTINCT FROM NEW.lead_id)
    EXECUTE FUNCTION row_lead_created();

CREATE FUNCTION lead_created_copies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sla_clocks SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;
    UPDATE owner_history SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;
    UPDATE opportunities SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER lead_created_copies AFTER UPDATE OF created_at ON leads FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION lead_created_copies();

DROP INDEX sla_clocks_started;
CREATE INDEX sla_clocks_started ON sla_clocks(started_at, lead_created_at, lead_id);
DROP INDEX owner_history_at;
CREATE INDEX owner_history_at ON owner_history(at, lead_created_at, lead_id);
