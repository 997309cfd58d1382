-- A lead's latest stage change (the latest `at` of its stage history; NULL when it has
-- none), kept by the triggers below. A report as of a past moment corrects the leads whose
-- stage changed since: with the creation time beside it in one index, those created by
-- then come from the index alone — not from every history row since, most of them of leads
-- created since and dropped through a list of those leads' ids.
ALTER TABLE leads ADD COLUMN stage_changed_at BIGINT;
UPDATE leads SET stage_changed_at = m.at
FROM (SELECT lead_id, MAX(at) AS at FROM stage_history GROUP BY lead_id) m
WHERE leads.id = m.lead_id;

CREATE TRIGGER stage_history_changed_ai AFTER INSERT ON stage_history BEGIN
    UPDATE leads SET stage_changed_at = NEW.at
    WHERE id = NEW.lead_id AND (stage_changed_at IS NULL OR stage_changed_at < NEW.at);
END;
-- A merge moves rows between leads (and back when undone).
CREATE TRIGGER stage_history_changed_au AFTER UPDATE OF lead_id, at ON stage_history BEGIN
    UPDATE leads SET stage_changed_at =
        (SELECT MAX(sh.at) FROM stage_history sh WHERE sh.lead_id = leads.id)
    WHERE id IN (OLD.lead_id, NEW.lead_id);
END;
CREATE TRIGGER stage_history_changed_ad AFTER DELETE ON stage_history BEGIN
    UPDATE leads SET stage_changed_at =
        (SELECT MAX(sh.at) FROM stage_history sh WHERE sh.lead_id = leads.id)
    WHERE id = OLD.lead_id;
END;

-- Leads of a past report whose stage changed since (time in stage, aging) ...
CREATE INDEX leads_stage_changed ON leads(stage_changed_at, created_at, id)
    WHERE deleted_at IS NULL;
-- ... and the disqualified ones among them (quality), replacing the probe of every
-- disqualified lead created by then for a history row since.
CREATE INDEX leads_disqualified_changed ON leads(stage_changed_at, created_at, id)
    WHERE stage = 'disqualified' AND deleted_at IS NULL;
