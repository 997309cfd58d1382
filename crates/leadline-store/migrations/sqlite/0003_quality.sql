-- Data quality (issue 5): each lead's verification status and findings.
-- Keep in step with ../postgres/0003_quality.sql.
CREATE TABLE lead_quality (
    lead_id BLOB PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    findings TEXT NOT NULL,
    checked_at BIGINT NOT NULL
);
CREATE INDEX lead_quality_status ON lead_quality(status, checked_at);
