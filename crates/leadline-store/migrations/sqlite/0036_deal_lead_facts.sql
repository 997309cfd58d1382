-- What the money reports read of a deal's lead, kept on the deal: the lead's creation time
-- (the sales cycle) and first touch (grouping by source, campaign, channel; attribution's
-- first touch). ROI, sales and attribution looked the lead up for every deal, one random
-- read each (most of attribution's time at a million leads). A lead's creation time never
-- changes; its first touch can (an edit, a merge), and a deal can be linked to another lead
-- (a merge) or lose it (the lead erased): the triggers keep the copy equal to the lead's.
ALTER TABLE opportunities ADD COLUMN lead_created_at BIGINT;
ALTER TABLE opportunities ADD COLUMN lead_source TEXT;
ALTER TABLE opportunities ADD COLUMN lead_medium TEXT;
ALTER TABLE opportunities ADD COLUMN lead_campaign TEXT;
UPDATE opportunities SET (lead_created_at, lead_source, lead_medium, lead_campaign) =
    (SELECT l.created_at, l.first_source, l.first_medium, l.first_campaign
     FROM leads l WHERE l.id = opportunities.lead_id)
WHERE lead_id IS NOT NULL;

CREATE TRIGGER opportunities_lead_facts_ai AFTER INSERT ON opportunities
WHEN NEW.lead_id IS NOT NULL BEGIN
    UPDATE opportunities SET (lead_created_at, lead_source, lead_medium, lead_campaign) =
        (SELECT l.created_at, l.first_source, l.first_medium, l.first_campaign
         FROM leads l WHERE l.id = NEW.lead_id)
    WHERE id = NEW.id;
END;
-- No row (the link cleared) sets them all to NULL.
CREATE TRIGGER opportunities_lead_facts_au AFTER UPDATE OF lead_id ON opportunities
WHEN OLD.lead_id IS NOT NEW.lead_id BEGIN
    UPDATE opportunities SET (lead_created_at, lead_source, lead_medium, lead_campaign) =
        (SELECT l.created_at, l.first_source, l.first_medium, l.first_campaign
         FROM leads l WHERE l.id = NEW.lead_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER leads_deal_facts_au AFTER UPDATE OF first_source, first_medium, first_campaign
ON leads
WHEN OLD.first_source IS NOT NEW.first_source OR OLD.first_medium IS NOT NEW.first_medium
    OR OLD.first_campaign IS NOT NEW.first_campaign BEGIN
    UPDATE opportunities SET lead_source = NEW.first_source, lead_medium = NEW.first_medium,
        lead_campaign = NEW.first_campaign
    WHERE lead_id = NEW.id;
END;

-- Won deals by closing time, for attribution's range of them.
CREATE INDEX opportunities_won ON opportunities(closed_at) WHERE stage = 'won';
