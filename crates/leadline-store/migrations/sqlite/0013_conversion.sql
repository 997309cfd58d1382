-- Conversion and recycling (issue 7): the contact a converted lead became, opportunities moving
-- through the pipeline until won or lost, and re-engage dates. Keep in step with ../postgres/0013_conversion.sql.

-- One contact per converted lead: the unique lead_id refuses a second conversion even
-- when two arrive at once.
CREATE TABLE contacts (
    id BLOB PRIMARY KEY NOT NULL,
    lead_id BLOB NOT NULL UNIQUE REFERENCES leads(id) ON DELETE CASCADE,
    account_id BLOB REFERENCES accounts(id) ON DELETE SET NULL,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    title TEXT,
    owner_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX contacts_account ON contacts(account_id);

CREATE TABLE opportunities (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    account_id BLOB REFERENCES accounts(id) ON DELETE SET NULL,
    contact_id BLOB REFERENCES contacts(id) ON DELETE SET NULL,
    lead_id BLOB REFERENCES leads(id) ON DELETE SET NULL,
    owner_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    amount BIGINT,
    currency TEXT,
    close_date TEXT,
    stage TEXT NOT NULL,
    probability INTEGER NOT NULL,
    reason TEXT,
    source TEXT,
    campaign TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX opportunities_stage ON opportunities(stage, updated_at);
CREATE INDEX opportunities_owner ON opportunities(owner_id, stage);
CREATE INDEX opportunities_lead ON opportunities(lead_id);

-- Every stage change of an opportunity: who, when, why.
CREATE TABLE opportunity_history (
    id BLOB PRIMARY KEY NOT NULL,
    opportunity_id BLOB NOT NULL REFERENCES opportunities(id) ON DELETE CASCADE,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    reason TEXT,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX opportunity_history_opp ON opportunity_history(opportunity_id, at);

-- Recycling: a lead sent back to marketing with a date to re-engage on comes back to sales
-- (nurture → MQL) when the sweeper reaches that time.
CREATE TABLE reengagements (
    lead_id BLOB PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reengagements_due ON reengagements(due_at);

-- Counting a rep's open leads (load-balanced routing, capacities, the board) reads this
-- index alone rather than every lead row the rep owns.
CREATE INDEX leads_owner_stage ON leads(owner_id, stage) WHERE deleted_at IS NULL;
