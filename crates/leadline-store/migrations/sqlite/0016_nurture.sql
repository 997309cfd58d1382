-- Nurture email templates and sequences (issue 8; enrollments come with the scheduler). Keep in step with ../postgres/0016_nurture.sql.

CREATE TABLE email_templates (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    marketing BOOLEAN NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A sequence's settings and steps as JSON (checked when saved).
CREATE TABLE sequences (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
