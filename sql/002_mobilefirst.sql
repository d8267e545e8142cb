-- mod_push schema, version 2: what the MobileFirst dialect and its OAuth token
-- endpoint need beyond version 1.

-- Clients may also be declared in httpd.conf (PushOAuthClient), so a token's client is
-- not always a row; pushctl client rm deletes a client's tokens itself.
ALTER TABLE push_access_token DROP CONSTRAINT push_access_token_client_id_fkey;
CREATE INDEX push_access_token_client ON push_access_token (client_id);

-- How a device or tag came to be ("API" for the MobileFirst API).
ALTER TABLE push_device ADD COLUMN created_mode text NOT NULL DEFAULT 'API';
ALTER TABLE push_tag ADD COLUMN created_mode text NOT NULL DEFAULT 'API';

-- Keyset paging for device lists in (app_id, device_id) order is served by the primary key;
-- subscriptions page by (app_id, subscription_id), tags by (app_id, name): also their keys.

-- Every application has the reserved broadcast tag Push.all.
INSERT INTO push_tag (app_id, name, description, created_mode)
     SELECT app_id, 'Push.all', 'Every device of the application', 'API' FROM push_application
ON CONFLICT DO NOTHING;

CREATE FUNCTION push_application_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_tag (app_id, name, description, created_mode)
    VALUES (NEW.app_id, 'Push.all', 'Every device of the application', 'API')
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER push_application_tags AFTER INSERT ON push_application
    FOR EACH ROW EXECUTE FUNCTION push_application_tags();

-- MobileFirst's platform letters: A Apple, G Google, W Windows, B browsers, S SMS.
CREATE FUNCTION push_platform_code(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p WHEN 'apns' THEN 'A' WHEN 'fcm' THEN 'G' WHEN 'wns' THEN 'W'
                  WHEN 'webpush' THEN 'B' ELSE 'S' END
$$;

-- Registry events for webhooks, written in the transaction of the change and only when
-- a webhook of the application listens for that event type.
CREATE FUNCTION push_event_emit(p_app text, p_kind text, p_entity jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO push_event (app_id, kind, payload)
    SELECT p_app, p_kind, p_entity
     WHERE EXISTS (SELECT 1 FROM push_webhook w WHERE w.app_id = p_app AND p_kind = ANY (w.events))
       AND EXISTS (SELECT 1 FROM push_application a WHERE a.app_id = p_app)
$$;

CREATE FUNCTION push_device_entity(d push_device) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('deviceId', d.device_id, 'userId', d.user_id, 'token', d.token,
                              'platform', push_platform_code(d.platform))
$$;

CREATE FUNCTION push_device_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM push_event_emit(NEW.app_id, 'onDeviceRegister', push_device_entity(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        IF (NEW.token, NEW.user_id, NEW.platform, NEW.phone_number)
           IS DISTINCT FROM (OLD.token, OLD.user_id, OLD.platform, OLD.phone_number) THEN
            PERFORM push_event_emit(NEW.app_id, 'onDeviceUpdate', push_device_entity(NEW));
        END IF;
    ELSE
        PERFORM push_event_emit(OLD.app_id, 'onDeviceUnregister', push_device_entity(OLD));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_device_events AFTER INSERT OR UPDATE OR DELETE ON push_device
    FOR EACH ROW EXECUTE FUNCTION push_device_events();

CREATE FUNCTION push_subscription_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s push_subscription;
BEGIN
    s := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
    PERFORM push_event_emit(s.app_id, CASE WHEN TG_OP = 'INSERT' THEN 'onSubscribe' ELSE 'onUnsubscribe' END,
                            jsonb_build_object('device', s.device_id, 'tagName', s.tag_name,
                                               'subscriptionId', s.subscription_id));
    RETURN NULL;
END
$$;
CREATE TRIGGER push_subscription_events AFTER INSERT OR DELETE ON push_subscription
    FOR EACH ROW EXECUTE FUNCTION push_subscription_events();

-- MobileFirst's device update: only the fields given change; a token taken from another
-- device leaves that device, as at registration. Returns nothing when the device is unknown.
CREATE FUNCTION push_device_update_mf(
    p_app text, p_device text, p_token text, p_set_user boolean, p_user text,
    p_set_phone boolean, p_phone text, p_user_agent text)
RETURNS SETOF push_device LANGUAGE plpgsql AS $$
DECLARE
    v_platform text;
BEGIN
    SELECT d.platform INTO v_platform FROM push_device d
     WHERE d.app_id = p_app AND d.device_id = p_device FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_token IS NOT NULL THEN
        DELETE FROM push_device d WHERE d.app_id = p_app AND d.platform = v_platform
           AND d.token = p_token AND d.device_id <> p_device AND d.invalid_since IS NULL;
    END IF;
    RETURN QUERY
    UPDATE push_device d
       SET token = coalesce(p_token, d.token),
           user_id = CASE WHEN p_set_user THEN p_user ELSE d.user_id END,
           phone_number = CASE WHEN p_set_phone THEN p_phone ELSE d.phone_number END,
           user_agent = coalesce(p_user_agent, d.user_agent),
           invalid_since = CASE WHEN p_token IS NOT NULL THEN NULL ELSE d.invalid_since END,
           updated_at = now(), last_used_at = clock_timestamp()
     WHERE d.app_id = p_app AND d.device_id = p_device
    RETURNING d.*;
END
$$;

-- Subscribing: one answer for the four outcomes the API distinguishes.
CREATE FUNCTION push_subscribe(p_app text, p_device text, p_tag text)
RETURNS TABLE (outcome text, subscription_id text, user_id text, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_user text;
    v_id text;
BEGIN
    SELECT d.user_id INTO v_user FROM push_device d WHERE d.app_id = p_app AND d.device_id = p_device;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no-device'::text, NULL::text, NULL::text, NULL::timestamptz;
        RETURN;
    END IF;
    PERFORM 1 FROM push_tag t WHERE t.app_id = p_app AND t.name = p_tag;
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

-- push_device_register learns the phone number (MobileFirst's SMS target); callers of
-- version 1's thirteen arguments reach it through the default. A NULL phone keeps the
-- stored one.
DROP FUNCTION push_device_register(text, text, text, text, text, text, text, text, text[],
                                   boolean, jsonb, text, integer);
CREATE FUNCTION push_device_register(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_family text, p_session text, p_filter text, p_categories text[],
    p_exclude boolean, p_extra jsonb, p_user_agent text, p_limit integer,
    p_phone text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_created boolean;
BEGIN
    LOOP
        -- invalid_since IS NULL lets this use push_device_token_live instead of a scan
        DELETE FROM push_device
         WHERE app_id = p_app AND platform = p_platform AND token = p_token
           AND device_id <> p_device AND invalid_since IS NULL;
        BEGIN
            INSERT INTO push_device AS d
                   (app_id, device_id, platform, token, user_id, user_agent, category_filter,
                    categories, categories_exclude, source_family, session_ref, extra, phone_number)
            VALUES (p_app, p_device, p_platform, p_token, p_user, p_user_agent, p_filter,
                    coalesce(p_categories, '{}'), coalesce(p_exclude, false), p_family, p_session,
                    coalesce(p_extra, '{}'), p_phone)
            ON CONFLICT (app_id, device_id) DO UPDATE
               SET platform = EXCLUDED.platform, token = EXCLUDED.token,
                   user_id = EXCLUDED.user_id, user_agent = EXCLUDED.user_agent,
                   category_filter = EXCLUDED.category_filter, categories = EXCLUDED.categories,
                   categories_exclude = EXCLUDED.categories_exclude,
                   source_family = EXCLUDED.source_family, session_ref = EXCLUDED.session_ref,
                   extra = EXCLUDED.extra, enabled = true, invalid_since = NULL,
                   phone_number = coalesce(EXCLUDED.phone_number, d.phone_number),
                   last_used_at = clock_timestamp(), updated_at = now()
            RETURNING (d.xmax = 0) INTO v_created;
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            -- a concurrent registration of the same token under another device id
        END;
    END LOOP;

    IF p_limit > 0 AND p_user IS NOT NULL THEN
        DELETE FROM push_device
         WHERE app_id = p_app AND device_id IN (
               SELECT device_id FROM push_device
                WHERE app_id = p_app AND user_id = p_user
                ORDER BY last_used_at DESC, device_id
               OFFSET p_limit);
    END IF;
    RETURN v_created;
END
$$;

-- MobileFirst's device registration: push_device_register, then a subscription to
-- Push.all for a new device; answers the row, so the API needs one round trip.
CREATE FUNCTION push_device_register_mf(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_phone text, p_user_agent text)
RETURNS SETOF push_device LANGUAGE plpgsql AS $$
BEGIN
    IF push_device_register(p_app, p_device, p_platform, p_token, p_user, 'mobilefirst',
                            NULL, NULL, '{}', false, '{}', p_user_agent, 0, p_phone) THEN
        INSERT INTO push_subscription (app_id, subscription_id, device_id, tag_name)
        VALUES (p_app, gen_random_uuid()::text, p_device, 'Push.all')
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY SELECT d.* FROM push_device d WHERE d.app_id = p_app AND d.device_id = p_device;
END
$$;

-- The user-facing dialects' hot path: a built-in session and a registration in one round
-- trip. Returns the session's user, or NULL (registering nothing) when it is not live.
CREATE FUNCTION push_session_register(
    p_hash text, p_app text, p_device text, p_platform text, p_token text, p_family text,
    p_bind boolean, p_filter text, p_categories text[], p_exclude boolean, p_extra jsonb,
    p_user_agent text, p_limit integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_user text;
BEGIN
    SELECT s.user_id INTO v_user FROM push_session s
     WHERE s.token_hash = p_hash AND s.app_id = p_app
       AND (s.expires_at IS NULL OR s.expires_at > now());
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM push_device_register(p_app, p_device, p_platform, p_token, v_user, p_family,
                                 CASE WHEN p_bind THEN p_hash END, p_filter, p_categories,
                                 p_exclude, p_extra, p_user_agent, p_limit);
    RETURN v_user;
END
$$;

INSERT INTO push_schema_version (version) VALUES (2);
