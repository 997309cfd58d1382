-- Scoring (issue 6): models, their versions, each lead's score per model, and score changes.
-- Keep in step with ../sqlite/0007_scoring.sql.

CREATE TABLE scoring_models (
    key TEXT PRIMARY KEY NOT NULL,
    is_default BOOLEAN NOT NULL,
    -- The version in force; NULL while the model has only drafts.
    active_version INTEGER,
    created_at BIGINT NOT NULL
);

-- Every saved rule set; versions are never changed, only added and activated.
CREATE TABLE scoring_versions (
    model_key TEXT NOT NULL REFERENCES scoring_models(key) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition JSONB NOT NULL,
    note TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activated_at BIGINT,
    PRIMARY KEY (model_key, version)
);

-- Each lead's score under each model, with the version that computed it. The default
-- model's score and grade are also on the lead (lists filter and sort by them).
CREATE TABLE lead_scores (
    lead_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    model_key TEXT NOT NULL,
    score INTEGER NOT NULL,
    fit INTEGER NOT NULL,
    grade TEXT NOT NULL,
    priority TEXT NOT NULL,
    version INTEGER NOT NULL,
    computed_at BIGINT NOT NULL,
    PRIMARY KEY (lead_id, model_key)
);
CREATE INDEX lead_scores_model ON lead_scores(model_key, score);

-- Score and grade changes caused by events (a full re-score does not write here; the lead
-- page draws the curve from the lead's activities).
CREATE TABLE score_history (
    id UUID PRIMARY KEY NOT NULL,
    lead_id UUID NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    model_key TEXT NOT NULL,
    at BIGINT NOT NULL,
    score INTEGER NOT NULL,
    grade TEXT NOT NULL,
    version INTEGER NOT NULL,
    cause TEXT NOT NULL
);
CREATE INDEX score_history_lead ON score_history(lead_id, at);

-- Full re-scores running in the background.
CREATE TABLE scoring_jobs (
    id UUID PRIMARY KEY NOT NULL,
    model_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    started_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    error TEXT
);
CREATE INDEX scoring_jobs_started ON scoring_jobs(started_at);
