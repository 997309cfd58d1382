-- Data quality (issue 5): each lead's verification status and findings, what the source's
-- policy did with it (accept, review, quarantine), and a person's review decision.
-- Keep in step with ../sqlite/0003_quality.sql.
CREATE TABLE lead_quality (
    lead_id UUID PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    findings JSONB NOT NULL,
    action TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    decision TEXT,
    reviewed_by TEXT,
    reviewed_at BIGINT
);
CREATE INDEX lead_quality_status ON lead_quality(status, checked_at);
-- The review queue: leads waiting for a person.
CREATE INDEX lead_quality_queue ON lead_quality(checked_at, lead_id) WHERE decision IS NULL AND action <> 'accept';
