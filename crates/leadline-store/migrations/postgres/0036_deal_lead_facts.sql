-- What the money reports read of a deal's lead, kept on the deal: the lead's creation time
-- (the sales cycle) and first touch (grouping by source, campaign, channel; attribution's
-- first touch). ROI, sales and attribution looked the lead up for every deal, one random
-- read each (most of attribution's time at a million leads). A lead's creation time never
-- changes; its first touch can (an edit, a merge), and a deal can be linked to another lead
-- (a merge) or lose it (the lead erased): the triggers keep the copy equal to the lead's.
ALTER TABLE opportunities ADD COLUMN lead_created_at BIGINT,
    ADD COLUMN lead_source TEXT, ADD COLUMN lead_medium TEXT, ADD COLUMN lead_campaign TEXT;
UPDATE opportunities o SET lead_created_at = l.created_at, lead_source = l.first_source,
    lead_medium = l.first_medium, lead_campaign = l.first_campaign
FROM leads l WHERE l.id = o.lead_id;

CREATE FUNCTION opportunity_lead_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- No row (no lead, or the link cleared) sets them all to NULL.
    SELECT l.created_at, l.first_source, l.first_medium, l.first_campaign
    INTO NEW.lead_created_at, NEW.lead_source, NEW.lead_medium, NEW.lead_campaign
    FROM leads l WHERE l.id = NEW.lead_id;
    RETURN NEW;
END $$;
CREATE TRIGGER opportunity_lead_facts BEFORE INSERT OR UPDATE OF lead_id ON opportunities
    FOR EACH ROW EXECUTE FUNCTION opportunity_lead_facts();

CREATE FUNCTION lead_deal_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE opportunities SET lead_source = NEW.first_source, lead_medium = NEW.first_medium,
        lead_campaign = NEW.first_campaign
    WHERE lead_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER lead_deal_facts AFTER UPDATE OF first_source, first_medium, first_campaign
    ON leads FOR EACH ROW
    WHEN (OLD.first_source IS DISTINCT FROM NEW.first_source
        OR OLD.first_medium IS DISTINCT FROM NEW.first_medium
        OR OLD.first_campaign IS DISTINCT FROM NEW.first_campaign)
    EXECUTE FUNCTION lead_deal_facts();

-- Won deals by closing time, for attribution's range of them.
CREATE INDEX opportunities_won ON opportunities(closed_at) WHERE stage = 'won';
