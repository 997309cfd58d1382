-- Events and webhooks (issue 10). Keep in step with ../sqlite/0014_webhooks.sql.

-- Where events go. The secret must be kept in clear: it signs every message.
CREATE TABLE webhook_endpoints (
    id UUID PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    -- JSON array of event types or groups; empty = every event.
    events TEXT NOT NULL DEFAULT '[]',
    secret TEXT NOT NULL,
    -- The secret before the last rotation, still signing until previous_secret_until.
    previous_secret TEXT,
    previous_secret_until BIGINT,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    -- Set by the first failed attempt after a success; cleared by a success.
    failing_since BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The outbox: an event is written in the same transaction as the change it reports, with
-- one delivery per endpoint subscribed at that moment. body is the exact JSON sent.
CREATE TABLE events (
    id UUID PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    lead_id UUID,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_lead ON events(lead_id);

CREATE TABLE webhook_deliveries (
    id UUID PRIMARY KEY NOT NULL,
    endpoint_id UUID NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id UUID NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    -- Deliveries with the same key go to their endpoint one after the other, in event
    -- order (the lead's id); NULL = no ordering.
    order_key UUID,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint_id, order_key, event_id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);

-- The delivery log: one row per HTTP attempt.
CREATE TABLE webhook_attempts (
    id UUID PRIMARY KEY NOT NULL,
    delivery_id UUID NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms INTEGER NOT NULL,
    -- JSON object of the request's headers (signatures are not secrets).
    request_headers TEXT NOT NULL,
    response_status INTEGER,
    -- The first KiB of the response body.
    response_body TEXT,
    error TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, started_at);
