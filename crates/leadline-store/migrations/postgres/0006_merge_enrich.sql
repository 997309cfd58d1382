-- Duplicates, merges and enrichment (issue 5). Keep in step with ../sqlite/0006_merge_enrich.sql.

-- Pairs of leads that look like one person, found by a duplicate scan or on capture.
-- lead_a < lead_b. status: open, merged or dismissed (a dismissed pair is not reopened).
CREATE TABLE duplicate_pairs (
    lead_a UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    lead_b UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    confidence DOUBLE PRECISION NOT NULL,
    reasons JSONB NOT NULL,
    status TEXT NOT NULL,
    found_by TEXT NOT NULL,
    found_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    PRIMARY KEY (lead_a, lead_b)
);
CREATE INDEX duplicate_pairs_status ON duplicate_pairs(status, confidence);
CREATE INDEX duplicate_pairs_b ON duplicate_pairs(lead_b);

-- One merge: the survivor before and after, snapshots of the merged leads, and the rows
-- moved to the survivor, so the merge can be undone.
CREATE TABLE lead_merges (
    id UUID PRIMARY KEY NOT NULL,
    survivor_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    merged JSONB NOT NULL,
    survivor_before JSONB NOT NULL,
    survivor_after JSONB NOT NULL,
    moved JSONB NOT NULL,
    picks JSONB NOT NULL,
    merged_by TEXT NOT NULL,
    merged_at BIGINT NOT NULL,
    undone_by TEXT,
    undone_at BIGINT
);
CREATE INDEX lead_merges_at ON lead_merges(merged_at, id);
CREATE INDEX lead_merges_survivor ON lead_merges(survivor_id);

-- Leads merged away, and the merge that did it (gone again after an unmerge).
CREATE TABLE merged_leads (
    lead_id UUID PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    merge_id UUID NOT NULL REFERENCES lead_merges(id) ON DELETE CASCADE
);

-- Companies leads can belong to; a lead links to the account of its company domain.
CREATE TABLE accounts (
    id UUID PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    domain TEXT UNIQUE,
    industry TEXT,
    owner_id UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE lead_accounts (
    lead_id UUID PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    matched_by TEXT NOT NULL,
    linked_at BIGINT NOT NULL
);
CREATE INDEX lead_accounts_account ON lead_accounts(account_id);

-- Enriched values with their provenance. applied: whether the value went into the lead
-- (enrichment only fills empty fields).
CREATE TABLE lead_enrichment (
    lead_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    provider TEXT NOT NULL,
    value JSONB NOT NULL,
    basis TEXT NOT NULL,
    applied BOOLEAN NOT NULL,
    enriched_at BIGINT NOT NULL,
    PRIMARY KEY (lead_id, field, provider)
);

-- Nothing reads lead_quality by status and check time (the overview counts by source in one
-- pass; the review queue has its own index), and every imported lead paid for it.
DROP INDEX lead_quality_status;
