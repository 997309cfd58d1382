-- SLA follow-up (issue 7): one first-touch clock per lead, the alerts the sweeper raises,
-- and follow-up tasks. Keep in step with ../postgres/0012_sla.sql.

-- The lead's current first-touch clock (replaced when the lead enters another covered
-- stage). Deadlines are in business time, computed when the clock starts.
CREATE TABLE sla_clocks (
    lead_id BLOB PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    target TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    warn_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    touched_at BIGINT,
    warned_at BIGINT,
    breached_at BIGINT,
    reassigned INTEGER NOT NULL DEFAULT 0
);
-- What the sweeper looks for: running clocks by deadline.
CREATE INDEX sla_clocks_due ON sla_clocks(due_at) WHERE touched_at IS NULL AND breached_at IS NULL;
CREATE INDEX sla_clocks_warn ON sla_clocks(warn_at) WHERE touched_at IS NULL AND warned_at IS NULL;
-- The board: untouched clocks by deadline.
CREATE INDEX sla_clocks_open ON sla_clocks(due_at) WHERE touched_at IS NULL;

-- Alerts for a person (user_id) or, when user_id is NULL, for the managers.
CREATE TABLE alerts (
    id BLOB PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    lead_id BLOB REFERENCES leads(id) ON DELETE CASCADE,
    task_id BLOB,
    user_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    team_id BLOB,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    resolved_by TEXT
);
CREATE INDEX alerts_open ON alerts(created_at) WHERE resolved_at IS NULL;
CREATE INDEX alerts_lead ON alerts(lead_id, kind);

-- Follow-up tasks; an outcome closes one and is recorded as an activity.
CREATE TABLE tasks (
    id BLOB PRIMARY KEY NOT NULL,
    lead_id BLOB NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    remind_at BIGINT NOT NULL,
    reminded_at BIGINT,
    assignee_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    outcome TEXT,
    done_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX tasks_lead ON tasks(lead_id, created_at);
CREATE INDEX tasks_open ON tasks(assignee_id, due_at) WHERE done_at IS NULL;
CREATE INDEX tasks_remind ON tasks(remind_at) WHERE done_at IS NULL AND reminded_at IS NULL;
