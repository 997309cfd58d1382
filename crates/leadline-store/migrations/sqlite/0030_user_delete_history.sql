-- Deleting a user (ON DELETE SET NULL) unassigns their leads; this writes the owner-history
-- row every other owner change has, so reports as of a past moment find the leads whose
-- owner changed since from the history's `at` index alone (issue 9).
CREATE TRIGGER users_delete_owner_history BEFORE DELETE ON users BEGIN
    INSERT INTO owner_history (id, lead_id, from_owner, to_owner, reason, actor, at)
    SELECT randomblob(16), l.id, OLD.id, NULL, 'user deleted', 'system',
           CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)
    FROM leads l WHERE l.owner_id = OLD.id;
END;
