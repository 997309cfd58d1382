-- Leadline foundation schema (PostgreSQL). Keep in step with ../sqlite/0001_foundation.sql.
-- Times are BIGINT microseconds since the Unix epoch (UTC); ids are UUIDv7 (uuid).

CREATE TABLE users (
    id UUID PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    sees_all_leads BOOLEAN NOT NULL DEFAULT false,
    active BOOLEAN NOT NULL DEFAULT true,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE teams (
    id UUID PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members(user_id);

CREATE TABLE api_keys (
    id UUID PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    user_id UUID REFERENCES users(id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE custom_fields (
    id UUID PRIMARY KEY NOT NULL,
    key TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    options JSONB NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE leads (
    id UUID PRIMARY KEY NOT NULL,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    mobile TEXT,
    title TEXT,
    company TEXT,
    website TEXT,
    industry TEXT,
    employees INTEGER,
    annual_revenue BIGINT,
    currency TEXT,
    street TEXT,
    city TEXT,
    state TEXT,
    postal_code TEXT,
    country TEXT,
    time_zone TEXT,
    description TEXT,
    budget BIGINT,
    authority TEXT,
    need TEXT,
    timeline TEXT,
    email_opt_out BOOLEAN NOT NULL DEFAULT false,
    first_source TEXT,
    first_medium TEXT,
    first_campaign TEXT,
    first_referrer TEXT,
    first_landing_page TEXT,
    last_source TEXT,
    last_medium TEXT,
    last_campaign TEXT,
    last_referrer TEXT,
    last_landing_page TEXT,
    owner_id UUID REFERENCES users(id) ON DELETE SET NULL,
    team_id UUID REFERENCES teams(id) ON DELETE SET NULL,
    stage TEXT NOT NULL,
    disqualify_reason TEXT,
    score INTEGER NOT NULL DEFAULT 0,
    grade TEXT,
    custom JSONB NOT NULL DEFAULT '{}',
    -- Derived, maintained on every write: lower-cased text for search and sorting.
    search_text TEXT NOT NULL,
    name_key TEXT NOT NULL,
    company_key TEXT NOT NULL,
    email_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX leads_created ON leads(created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_updated ON leads(updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_score ON leads(score, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_name ON leads(name_key, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_company ON leads(company_key, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_owner ON leads(owner_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_team ON leads(team_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_stage ON leads(stage, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_source ON leads(first_source, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_campaign ON leads(first_campaign, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX leads_email ON leads(email_key) WHERE deleted_at IS NULL;

-- Substring search over name, email and company (trigram index serves LIKE '%x%').
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX leads_search ON leads USING gin (search_text gin_trgm_ops) WHERE deleted_at IS NULL;

CREATE TABLE activities (
    id UUID PRIMARY KEY NOT NULL,
    lead_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    properties JSONB NOT NULL DEFAULT '{}',
    recorded_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX activities_lead ON activities(lead_id, occurred_at, id);

CREATE TABLE stage_history (
    id UUID PRIMARY KEY NOT NULL,
    lead_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    reason TEXT,
    note TEXT,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX stage_history_lead ON stage_history(lead_id, at);
CREATE INDEX stage_history_at ON stage_history(at);

CREATE TABLE owner_history (
    id UUID PRIMARY KEY NOT NULL,
    lead_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    from_owner UUID,
    to_owner UUID,
    reason TEXT,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX owner_history_lead ON owner_history(lead_id, at);

CREATE TABLE audit_log (
    id UUID PRIMARY KEY NOT NULL,
    actor TEXT NOT NULL,
    actor_user_id UUID,
    actor_api_key_id UUID,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id UUID,
    changes JSONB NOT NULL DEFAULT '[]',
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log(entity_type, entity_id, at);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE saved_views (
    id UUID PRIMARY KEY NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, name)
);
