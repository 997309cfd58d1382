-- A report as of a past moment corrects its roll-up by the leads whose owner changed, or
-- whose first-touch clock started, after the moment, among the leads created by then. Most
-- such rows are of leads created since (an assignment and a clock for every new lead), and
-- telling them apart took a list of every lead created since, probed for each row: two
-- thirds of "response as of 30 days ago" at a million leads. Each row now carries its
-- lead's creation time, beside the moment in one index, so the rows that matter are
-- picked inside the index. The triggers keep the copy equal to the lead's (rows move to
-- another lead on a merge; a lead's creation time is never rewritten, but if it were its
-- copies, and the deals' of 0036, would follow).
ALTER TABLE sla_clocks ADD COLUMN lead_created_at BIGINT;
UPDATE sla_clocks SET lead_created_at =
    (SELECT l.created_at FROM leads l WHERE l.id = sla_clocks.lead_id);
ALTER TABLE owner_history ADD COLUMN lead_created_at BIGINT;
UPDATE owner_history SET lead_created_at =
    (SELECT l.created_at FROM leads l WHERE l.id = owner_history.lead_id);

-- The store writes the copy with each new row (a second write would move its index
-- entry); the insert triggers fill it for rows written otherwise (0030's trigger).
CREATE TRIGGER sla_clocks_lead_created_ai AFTER INSERT ON sla_clocks
WHEN NEW.lead_created_at IS NULL BEGIN
    UPDATE sla_clocks SET lead_created_at =
        (SELECT l.created_at FROM leads l WHERE l.id = NEW.lead_id)
    WHERE lead_id = NEW.lead_id;
END;
CREATE TRIGGER sla_clocks_lead_created_au AFTER UPDATE OF lead_id ON sla_clocks
WHEN OLD.lead_id IS NOT NEW.lead_id BEGIN
    UPDATE sla_clocks SET lead_created_at =
        (SELECT l.created_at FROM leads l WHERE l.id = NEW.lead_id)
    WHERE lead_id = NEW.lead_id;
END;
CREATE TRIGGER owner_history_lead_created_ai AFTER INSERT ON owner_history
WHEN NEW.lead_created_at IS NULL BEGIN
    UPDATE owner_history SET lead_created_at =
        (SELECT l.created_at FROM leads l WHERE l.id = NEW.lead_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER owner_history_lead_created_au AFTER UPDATE OF lead_id ON owner_history
WHEN OLD.lead_id IS NOT NEW.lead_id BEGIN
    UPDATE owner_history SET lead_created_at =
        (SELECT l.created_at FROM leads l WHERE l.id = NEW.lead_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER leads_created_copies_au AFTER UPDATE OF created_at ON leads
WHEN OLD.created_at IS NOT NEW.created_at BEGIN
    UPDATE sla_clocks SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;
    UPDATE owner_history SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;
    UPDATE opportunities SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;
END;

DROP INDEX sla_clocks_started;
CREATE INDEX sla_clocks_started ON sla_clocks(started_at, lead_created_at, lead_id);
DROP INDEX owner_history_at;
CREATE INDEX owner_history_at ON owner_history(at, lead_created_at, lead_id);
