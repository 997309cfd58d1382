-- Predictive scoring (issue 6): trained models with how they measured, and each lead's
-- predicted conversion. Keep in step with ../postgres/0008_prediction.sql.

-- Every training run: a job while it runs, then a model (or the reason it failed).
CREATE TABLE prediction_models (
    id BLOB PRIMARY KEY NOT NULL,
    -- training, scoring, ready or failed.
    state TEXT NOT NULL,
    -- The model serving predictions; at most one.
    active BOOLEAN NOT NULL,
    excluded TEXT NOT NULL,
    report TEXT,
    -- Columns and trees as one JSON document (read once, then cached by id).
    model TEXT,
    error TEXT,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL,
    started_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX prediction_models_started ON prediction_models(started_at);

-- Each lead's conversion probability under the model that computed it.
CREATE TABLE lead_predictions (
    lead_id BLOB PRIMARY KEY NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    model_id BLOB NOT NULL,
    probability REAL NOT NULL,
    computed_at BIGINT NOT NULL
);
