-- Leadline foundation schema (SQLite). Keep in step with ../postgres/0001_foundation.sql.
-- Times are BIGINT microseconds since the Unix epoch (UTC); ids are UUIDv7 (16-byte BLOB).

CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    sees_all_leads BOOLEAN NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE teams (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id BLOB NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members(user_id);

CREATE TABLE api_keys (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    user_id BLOB REFERENCES users(id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE custom_fields (
    id BLOB PRIMARY KEY NOT NULL,
    key TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE leads (
    id BLOB PRIMARY KEY NOT NULL,
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
    email_opt_out BOOLEAN NOT NULL DEFAULT 0,
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
    owner_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    team_id BLOB REFERENCES teams(id) ON DELETE SET NULL,
    stage TEXT NOT NULL,
    disqualify_reason TEXT,
    score INTEGER NOT NULL DEFAULT 0,
    grade TEXT,
    custom TEXT NOT NULL DEFAULT '{}',
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

-- Substring search over name, email and company (trigram full-text index).
CREATE VIRTUAL TABLE leads_search USING fts5(search_text, content='leads', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER leads_search_ai AFTER INSERT ON leads BEGIN
    INSERT INTO leads_search(rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER leads_search_ad AFTER DELETE ON leads BEGIN
    INSERT INTO leads_search(leads_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER leads_search_au AFTER UPDATE OF search_text ON leads BEGIN
    INSERT INTO leads_search(leads_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO leads_search(rowid, search_text) VALUES (new.rowid, new.search_text);
END;

CREATE TABLE activities (
    id BLOB PRIMARY KEY NOT NULL,
    lead_id BLOB NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    recorded_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX activities_lead ON activities(lead_id, occurred_at, id);

CREATE TABLE stage_history (
    id BLOB PRIMARY KEY NOT NULL,
    lead_id BLOB NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
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
    id BLOB PRIMARY KEY NOT NULL,
    lead_id BLOB NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    from_owner BLOB,
    to_owner BLOB,
    reason TEXT,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX owner_history_lead ON owner_history(lead_id, at);

CREATE TABLE audit_log (
    id BLOB PRIMARY KEY NOT NULL,
    actor TEXT NOT NULL,
    actor_user_id BLOB,
    actor_api_key_id BLOB,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id BLOB,
    changes TEXT NOT NULL DEFAULT '[]',
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log(entity_type, entity_id, at);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE saved_views (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, name)
);
