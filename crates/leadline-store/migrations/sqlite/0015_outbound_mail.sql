-- Outbound email (issue 7's owner notifications; issue 8 builds sequences on it). Keep in
-- step with ../postgres/0015_outbound_mail.sql.

-- Every message Leadline sends, written in the transaction of its cause. With no SMTP
-- relay configured, queued messages stay here: the outbox shown in the UI.
CREATE TABLE outbound_messages (
    id BLOB PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    to_address TEXT NOT NULL,
    user_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    lead_id BLOB REFERENCES leads(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    -- The HTML part, when there is one (templates).
    body_html TEXT,
    message_id TEXT NOT NULL,
    -- queued (waiting, retrying, or kept in the outbox), sent, failed (given up).
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbound_messages_due ON outbound_messages(next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbound_messages_created ON outbound_messages(created_at);
