-- Deleting a user (ON DELETE SET NULL) unassigns their leads; this writes the owner-history
-- row every other owner change has, so reports as of a past moment find the leads whose
-- owner changed since from the history's `at` index alone (issue 9).
CREATE FUNCTION users_delete_owner_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO owner_history (id, lead_id, from_owner, to_owner, reason, actor, at)
    SELECT gen_random_uuid(), l.id, OLD.id, NULL, 'user deleted', 'system',
           (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT
    FROM leads l WHERE l.owner_id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER users_delete_owner_history BEFORE DELETE ON users FOR EACH ROW
    EXECUTE FUNCTION users_delete_owner_history();
