-- Quality as of a past moment corrects the leads whose stage then was `disqualified` and is
-- not now: the stage history rows that left it, found without reading every later change.
CREATE INDEX stage_history_left_disqualified ON stage_history(at)
    WHERE from_stage = 'disqualified';
