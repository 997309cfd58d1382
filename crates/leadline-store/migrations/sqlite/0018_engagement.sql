-- What became of sequence mail (opens, clicks, replies, bounces, unsubscribes), per-domain
-- throttling and the consent records sending may require (issue 8). Keep in step with
-- ../postgres/0018_engagement.sql.

-- The token of this message's open pixel and tracked links.
ALTER TABLE outbound_messages ADD COLUMN track_token TEXT;
-- The recipient's domain, lower-case: sequences throttle per domain.
ALTER TABLE outbound_messages ADD COLUMN to_domain TEXT;
ALTER TABLE outbound_messages ADD COLUMN opened_at BIGINT;
ALTER TABLE outbound_messages ADD COLUMN opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbound_messages ADD COLUMN clicked_at BIGINT;
ALTER TABLE outbound_messages ADD COLUMN clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbound_messages ADD COLUMN replied_at BIGINT;
ALTER TABLE outbound_messages ADD COLUMN bounced_at BIGINT;
ALTER TABLE outbound_messages ADD COLUMN unsubscribed_at BIGINT;
CREATE UNIQUE INDEX outbound_messages_track ON outbound_messages(track_token) WHERE track_token IS NOT NULL;
-- Replies (In-Reply-To, References) and bounce reports name a message by its Message-ID.
CREATE INDEX outbound_messages_message_id ON outbound_messages(message_id);
CREATE INDEX outbound_messages_domain ON outbound_messages(to_domain, created_at) WHERE enrollment_id IS NOT NULL;

-- A tracked link inside a sent message: its click is that message's.
ALTER TABLE tracked_links ADD COLUMN message_id BLOB;

-- Consent a lead gave or withdrew, per purpose (marketing_email): from a form's consent
-- box, the API, or an unsubscribe. The latest record of a purpose is what holds.
CREATE TABLE consents (
    id BLOB PRIMARY KEY NOT NULL,
    lead_id BLOB NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    consent_text TEXT,
    ip TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX consents_lead ON consents(lead_id, purpose, recorded_at);
