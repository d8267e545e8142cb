-- mod_push schema, version 18: a subscription holds its device's lock before its owner's.
--
-- Version 15's push_subscribe read the device's owner, then took that owner's lock. A
-- registration that gave the device to another user in between left the subscription
-- holding the old owner's lock, which the new owner's eviction does not wait for. Every
-- change of a device's owner holds the device's own advisory lock (push_device_lock, step
-- 1 of the order in version 9), so the subscription now takes it first: the owner it reads
-- then stays the owner until it commits. Same arguments and answers.
CREATE OR REPLACE FUNCTION push_subscribe(p_app text, p_device text, p_tag text)
RETURNS TABLE (outcome text, subscription_id text, user_id text, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_user text;
    v_id text;
BEGIN
    -- the device's own lock first (step 1 of the order): whatever gives the device to
    -- another user holds it, so the owner read next is the one whose lock counts
    PERFORM pg_advisory_xact_lock(1886745345, hashtext(p_app || '/d/' || p_device));
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

INSERT INTO push_schema_version (version) VALUES (18);
