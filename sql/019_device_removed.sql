-- mod_push schema, version 19: a device that is removed takes its queued deliveries with it.
--
-- Until now only a change of owner cancelled a device's pending deliveries. A device that
-- was deleted (by its owner, by a token moving to another device id, by pushctl) or whose
-- row an eviction gave to another device id left them pending under its id; when anyone
-- registered that id again, the next retry delivered the earlier owner's message to the
-- new owner's token. Now deleting a device, and an eviction that renames its row, cancel
-- its pending deliveries ("the device was removed"), as a change of owner does. The
-- deliveries a sender holds at that moment cannot be cancelled under it: they are marked
-- with the reason instead, and the finishes (version 20) read the mark.

DROP FUNCTION push_device_cancel_pending(text, text);
CREATE FUNCTION push_device_cancel_pending(p_app text, p_device text,
                                           p_why text DEFAULT 'the device changed owner')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    -- almost always there is nothing: one probe of push_delivery_device_pending, not two
    -- updates (an eviction at the limit runs this for every registration)
    IF NOT EXISTS (SELECT 1 FROM push_delivery
                    WHERE app_id = p_app AND device_id = p_device AND state = 'pending') THEN
        RETURN;
    END IF;
    UPDATE push_delivery SET error = p_why
     WHERE app_id = p_app AND device_id = p_device AND state = 'pending'
       AND lease_owner IS NOT NULL AND next_attempt_at > now();
    FOR r IN
        WITH c AS (
            UPDATE push_delivery SET state = 'cancelled', lease_owner = NULL, updated_at = now(),
                   error = p_why
             WHERE app_id = p_app AND device_id = p_device AND state = 'pending'
               AND (lease_owner IS NULL OR next_attempt_at <= now())
            RETURNING message_id)
        SELECT message_id, count(*) AS n FROM c GROUP BY message_id ORDER BY message_id
    LOOP
        UPDATE push_message SET cancelled = cancelled + r.n, updated_at = now()
         WHERE app_id = p_app AND message_id = r.message_id;
        PERFORM push_message_settle(p_app, r.message_id);
    END LOOP;
END
$$;

-- Version 12's row trigger, with the deleted device's deliveries cancelled.
CREATE OR REPLACE FUNCTION push_device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_kind text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM push_device_cancel_pending(OLD.app_id, OLD.device_id, 'the device was removed');
        v_kind := 'onDeviceUnregister';
    ELSE
        IF OLD.user_id IS DISTINCT FROM NEW.user_id THEN
            PERFORM push_device_cancel_pending(NEW.app_id, NEW.device_id);
        END IF;
        IF (NEW.token, NEW.user_id, NEW.platform, NEW.phone_number)
           IS DISTINCT FROM (OLD.token, OLD.user_id, OLD.platform, OLD.phone_number) THEN
            v_kind := 'onDeviceUpdate';
        END IF;
    END IF;
    IF v_kind IS NOT NULL THEN
        PERFORM push_event_emit(coalesce(NEW.app_id, OLD.app_id), v_kind,
                                push_device_entity(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END));
    END IF;
    RETURN NULL;
END
$$;

-- An eviction gives the least recently used device's row to the new device
-- (push_device_put, which writes the events): the old device id's deliveries end here.
-- The partial index push_delivery_device_pending makes this one probe when, as almost
-- always, there are none.
CREATE FUNCTION push_device_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM push_delivery
                WHERE app_id = OLD.app_id AND device_id = OLD.device_id AND state = 'pending') THEN
        PERFORM push_device_cancel_pending(OLD.app_id, OLD.device_id, 'the device was removed');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER push_device_renamed AFTER UPDATE OF device_id ON push_device
    FOR EACH ROW WHEN (OLD.device_id <> NEW.device_id)
    EXECUTE FUNCTION push_device_renamed();

INSERT INTO push_schema_version (version) VALUES (19);
