-- Routing (issue 7): versioned rule sets, reps' availability, each team's turns, and why
-- every assignment went where it did. Keep in step with ../sqlite/0011_routing.sql.

-- Every saved rule set; versions are never changed, only added and put in force.
CREATE TABLE routing_versions (
    version INTEGER PRIMARY KEY NOT NULL,
    rules JSONB NOT NULL,
    note TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activated_at BIGINT,
    in_force BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX routing_versions_in_force ON routing_versions(in_force) WHERE in_force;

-- A rep's time zone, working hours, absence, weight and capacity (JSON, RepSettings).
CREATE TABLE rep_settings (
    user_id UUID PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    settings JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per team, locked while the team picks a rep, so that concurrent captures (also
-- from several server processes) take turns one at a time.
CREATE TABLE routing_locks (
    team_id UUID PRIMARY KEY NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    turns BIGINT NOT NULL DEFAULT 0
);

-- How many leads each team has routed to each member (the round robin's turns).
CREATE TABLE routing_turns (
    team_id UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    assigned BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

-- The owner history says how each assignment was made.
ALTER TABLE owner_history ADD COLUMN team_id UUID;
ALTER TABLE owner_history ADD COLUMN rule_id TEXT;
ALTER TABLE owner_history ADD COLUMN method TEXT;
ALTER TABLE owner_history ADD COLUMN routing_version INTEGER;
CREATE INDEX owner_history_at ON owner_history(at);
