-- Failed sign-ins, for the throttle (domain::sign_in). Only hashes of the email and of the
-- client address are kept, and only for a day: they are personal data.
CREATE TABLE sign_in_failures (
    account_hash TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures(account_hash, at);
CREATE INDEX sign_in_failures_address ON sign_in_failures(address_hash, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures(at);
