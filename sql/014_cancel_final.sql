-- mod_push schema, version 14: a cancelled message ends 'cancelled'.
--
-- Version 11's push_message_cancel left a message with deliveries or chunks in flight in
-- 'sending' until they ended, and the last of them settled it as 'done': a broadcast the
-- application had cancelled was reported as delivered to the end. The message now takes
-- its final state at once, as an expiry does (push_message_expire); what was in flight
-- still ends and counts (sent, failed, ...) in the same row, and a delivery it leaves to
-- retry is not sent again (the sender reads the state before it sends). The summary's
-- pending count says how much is still in flight.
CREATE OR REPLACE FUNCTION push_message_cancel(p_app text, p_msg text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_n integer;
    v_k integer;
BEGIN
    SELECT state INTO v_state FROM push_message
     WHERE app_id = p_app AND message_id = p_msg FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF v_state IN ('done', 'cancelled', 'expired') THEN
        RETURN true;
    END IF;
    WITH c AS (
        UPDATE push_delivery SET state = 'cancelled', lease_owner = NULL, updated_at = now()
         WHERE app_id = p_app AND message_id = p_msg AND state = 'pending'
           AND (lease_owner IS NULL OR next_attempt_at <= now())
        RETURNING 1)
    SELECT count(*) INTO v_n FROM c;
    WITH k AS (
        DELETE FROM push_chunk WHERE chunk_id IN (
            SELECT x.chunk_id FROM push_chunk x
             WHERE x.app_id = p_app AND x.message_id = p_msg AND x.lease_until < now()
               FOR UPDATE SKIP LOCKED)   -- (one a sender is taking over right now is its)
        RETURNING size)
    SELECT coalesce(sum(size), 0) INTO v_k FROM k;
    UPDATE push_message SET cancelled = cancelled + v_n + v_k, state = 'cancelled',
           finished_at = now(), updated_at = now(), expand_cursor = NULL, lease_owner = NULL,
           lease_until = NULL
     WHERE app_id = p_app AND message_id = p_msg;
    RETURN true;
END
$$;

INSERT INTO push_schema_version (version) VALUES (14);
