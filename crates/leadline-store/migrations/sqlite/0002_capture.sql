-- Capture (issue 4): sources and campaigns with cost, referrals, rejected submissions,
-- idempotency, import jobs, hosted forms, anonymous visitors and tracked links.
-- Keep in step with ../postgres/0002_capture.sql.

-- An identifier the lead has in another system (Salesforce External ID, an import's record id).
ALTER TABLE leads ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX leads_external_id ON leads(external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL;

-- Admin-editable settings, one JSON document per key (e.g. `capture`).
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Lead sources and campaigns: the keys are what leads carry in first/last touch.
CREATE TABLE sources (
    id BLOB PRIMARY KEY NOT NULL,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE campaigns (
    id BLOB PRIMARY KEY NOT NULL,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    source_key TEXT,
    created_at BIGINT NOT NULL
);

-- What a campaign cost in a period (dates inclusive, ISO yyyy-mm-dd), in minor units.
CREATE TABLE campaign_costs (
    id BLOB PRIMARY KEY NOT NULL,
    campaign_id BLOB NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX campaign_costs_campaign ON campaign_costs(campaign_id, period_start);

-- Who referred a lead (a person, a partner, a customer).
CREATE TABLE referrals (
    lead_id BLOB PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    referrer_name TEXT,
    referrer_email TEXT,
    referrer_lead_id BLOB,
    note TEXT,
    created_at BIGINT NOT NULL
);

-- Everything a person submitted that did not become (part of) a lead, with the reason.
CREATE TABLE rejected_submissions (
    id BLOB PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    remote_addr TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX rejected_submissions_received ON rejected_submissions(received_at, id);

-- Remembered responses of capture calls sent with an Idempotency-Key, per caller.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- Content fingerprints of imported rows without email or external id, so a re-run finds them.
CREATE TABLE lead_fingerprints (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    lead_id BLOB NOT NULL REFERENCES leads(id) ON DELETE CASCADE
);

-- The known result of a historical lead (won or lost), e.g. from an import's outcome column.
CREATE TABLE lead_outcomes (
    lead_id BLOB PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    outcome TEXT NOT NULL,
    origin TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);

-- CSV import jobs. The file is kept until the job ends so a crash can resume at next_row.
CREATE TABLE imports (
    id BLOB PRIMARY KEY NOT NULL,
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    content BLOB,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    total_rows BIGINT NOT NULL,
    next_row BIGINT NOT NULL DEFAULT 0,
    created_count BIGINT NOT NULL DEFAULT 0,
    updated_count BIGINT NOT NULL DEFAULT 0,
    skipped_count BIGINT NOT NULL DEFAULT 0,
    failed_count BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX imports_created ON imports(created_at);
CREATE INDEX imports_sha ON imports(file_sha256, status);

CREATE TABLE import_errors (
    id BLOB PRIMARY KEY NOT NULL,
    import_id BLOB NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    row_number BIGINT NOT NULL,
    field TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    raw TEXT NOT NULL
);
CREATE INDEX import_errors_import ON import_errors(import_id, row_number);

-- Hosted forms: the definition (fields, consent, thank-you) is one JSON document.
CREATE TABLE forms (
    id BLOB PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Anonymous visitors (first-party id) and what they did before they identified themselves.
CREATE TABLE visitors (
    id TEXT PRIMARY KEY NOT NULL,
    lead_id BLOB REFERENCES leads(id) ON DELETE SET NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX visitors_lead ON visitors(lead_id);

CREATE TABLE visitor_events (
    id BLOB PRIMARY KEY NOT NULL,
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    properties TEXT NOT NULL
);
CREATE INDEX visitor_events_visitor ON visitor_events(visitor_id, occurred_at);

-- Tracked redirect links: /r/<token> records a click and redirects to url.
CREATE TABLE tracked_links (
    token TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    lead_id BLOB REFERENCES leads(id) ON DELETE CASCADE,
    campaign TEXT,
    label TEXT,
    created_at BIGINT NOT NULL
);
