-- Duplicate matching keys (issue 5): the normalised email, the E.164 phones and the
-- name-and-company blocking keys of each lead, so a capture or a duplicate check compares
-- a lead with a handful of candidates, never the whole table.
-- Keep in step with ../sqlite/0004_lead_keys.sql.
CREATE TABLE lead_keys (
    key TEXT NOT NULL,
    lead_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    PRIMARY KEY (key, lead_id)
);
CREATE INDEX lead_keys_lead ON lead_keys(lead_id);
