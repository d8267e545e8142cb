-- mod_push schema, version 15: a subscription that races an eviction answers "no such
-- device" rather than fail.
--
-- push_subscribe read the device, then inserted the subscription. A registration that
-- evicted that device in between (version 12 gives the least recently used device's row
-- to the new device, a new key, when nothing refers to it) made the insert fail its
-- foreign key (23503), a 500-class answer. The eviction reads "does anything refer to it"
-- under the owner's lock; a subscription now takes the same lock before it reads the
-- device, so either the registration sees the subscription (and deletes the device with
-- it) or the subscription sees the device gone. The tag is held FOR KEY SHARE until the
-- subscription commits, so a tag deleted meanwhile waits for it and takes it along.
-- The owner's lock is the last lock of the documented order (docs/data-model.md), and
-- nothing is locked after it but these rows.
CREATE OR REPLACE FUNCTION push_subscribe(p_app text, p_device text, p_tag text)
RETURNS TABLE (outcome text, subscription_id text, user_id text, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_user text;
    v_id text;
BEGIN
    SELECT d.user_id INTO v_user FROM push_device d WHERE d.app_id = p_app AND d.device_id = p_device;
    IF FOUND AND v_user IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1886745346, hashtext(p_app || '/u/' || v_user));
        -- read again under the lock (a new statement sees what committed before it)
        SELECT d.user_id INTO v_user FROM push_device d
         WHERE d.app_id = p_app AND d.device_id = p_device FOR KEY SHARE;
    END IF;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no-device'::text, NULL::text, NULL::text, NULL::timestamptz;
        RETURN;
    END IF;
    PERFORM 1 FROM push_tag t WHERE t.app_id = p_app AND t.name = p_tag FOR KEY SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no-tag'::text, NULL::text, NULL::text, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO push_subscription AS s (app_id, subscription_id, device_id, tag_name)
    VALUES (p_app, gen_random_uuid()::text, p_device, p_tag)
    ON CONFLICT (app_id, device_id, tag_name) DO NOTHING
    RETURNING s.subscription_id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY SELECT 'exists'::text, s.subscription_id, v_user, s.created_at
                       FROM push_subscription s
                      WHERE s.app_id = p_app AND s.device_id = p_device AND s.tag_name = p_tag;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'created'::text, s.subscription_id, v_user, s.created_at
                   FROM push_subscription s WHERE s.app_id = p_app AND s.subscription_id = v_id;
END
$$;

INSERT INTO push_schema_version (version) VALUES (15);
