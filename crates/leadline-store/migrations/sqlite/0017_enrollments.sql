-- Sequence enrollments, sequence mail and the suppression list (issue 8). Keep in step
-- with ../postgres/0017_enrollments.sql.

-- A lead walking through a sequence. step is the next step to run (0-based); step_run
-- counts the steps run so far and only grows (also when a branch jumps back), so a message
-- is keyed by (enrollment, step_run): no step run is sent twice.
CREATE TABLE enrollments (
    id BLOB PRIMARY KEY NOT NULL,
    sequence_id BLOB NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    lead_id BLOB NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    -- active, finished, exited
    status TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    step_run INTEGER NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    lease_until BIGINT,
    -- The lead's stage when it enrolled: moving on to MQL or beyond hands it back to sales.
    enrolled_stage TEXT NOT NULL,
    exit_reason TEXT,
    enrolled_by TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX enrollments_one_active ON enrollments(sequence_id, lead_id) WHERE status = 'active';
CREATE INDEX enrollments_due ON enrollments(due_at) WHERE status = 'active';
CREATE INDEX enrollments_lead ON enrollments(lead_id);
CREATE INDEX enrollments_sequence ON enrollments(sequence_id, status);

-- Addresses never mailed again (unsubscribed, hard bounce, by hand), by email match key.
CREATE TABLE suppressions (
    email_key TEXT PRIMARY KEY NOT NULL,
    reason TEXT NOT NULL,
    lead_id BLOB,
    created_at BIGINT NOT NULL
);

ALTER TABLE outbound_messages ADD COLUMN enrollment_id BLOB;
ALTER TABLE outbound_messages ADD COLUMN step_run INTEGER;
-- The token in this message's unsubscribe link (List-Unsubscribe, RFC 8058 one-click).
ALTER TABLE outbound_messages ADD COLUMN unsubscribe_token TEXT;
-- Sequence mail is sent at most once: a claim whose sender died is not sent again.
ALTER TABLE outbound_messages ADD COLUMN at_most_once BOOLEAN NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX outbound_messages_step ON outbound_messages(enrollment_id, step_run) WHERE enrollment_id IS NOT NULL;
CREATE UNIQUE INDEX outbound_messages_unsubscribe ON outbound_messages(unsubscribe_token) WHERE unsubscribe_token IS NOT NULL;
-- Sending claims (at most once): status 'sending' with a lease.
CREATE INDEX outbound_messages_sending ON outbound_messages(lease_until) WHERE status = 'sending';
