-- Privacy (issue 11): an erased lead keeps its row (reports stay correct) with the person's
-- data removed and the moment it happened; consent records name their lawful basis, the
-- version of the text agreed to and the proof (e.g. the form submission it came with).
ALTER TABLE leads ADD COLUMN erased_at BIGINT;
ALTER TABLE consents ADD COLUMN lawful_basis TEXT;
ALTER TABLE consents ADD COLUMN text_version TEXT;
ALTER TABLE consents ADD COLUMN proof TEXT;
