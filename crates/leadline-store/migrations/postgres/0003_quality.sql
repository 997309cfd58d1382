-- Data quality (issue 5): each lead's verification status and findings.
-- Keep in step with ../sqlite/0003_quality.sql.
CREATE TABLE lead_quality (
    lead_id UUID PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    findings JSONB NOT NULL,
    checked_at BIGINT NOT NULL
);
CREATE INDEX lead_quality_status ON lead_quality(status, checked_at);
