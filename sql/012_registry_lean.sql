-- mod_push schema, version 12: a registration that costs the database little more than
-- the row it stores (issue 11, item 4).
--
-- Measured with pgbench on the registration alone (bench/registration), version 11 spent
-- most of a registration's time around the row rather than in it: a per-user count row
-- updated twice per registration that evicts (push_device_owner), a PL/pgSQL row trigger
-- on every insert and delete, a foreign key check that locks the application's row
-- FOR KEY SHARE on every insert (a MultiXact as soon as two registrations overlap), two
-- CHECK constraints whose expressions are read from the catalog again for every
-- statement, a DELETE and an INSERT (each with its own trigger and cascade) for every
-- eviction, and some statements planned again at every call. Version 12:
--  * counts a user's devices when it needs to, from push_device_user (an index range of
--    at most the limit plus one entries), under the user's advisory lock: no count row;
--  * evicts by giving the least recently used device's row to the new device (one
--    UPDATE instead of a DELETE and an INSERT) unless something refers to it;
--  * emits the registry's events from push_device_put itself, and fires the row
--    triggers only where they have work: on delete, and on an update that changes an
--    owner, a token, a platform or a phone number;
--  * replaces the foreign key to push_application by a lock: a registration holds the
--    application's advisory lock shared, the deletion of an application takes it
--    exclusively and deletes the application's devices;
--  * keeps generic plans for push_device_put's statements.
-- The lock order of version 9 is unchanged (docs/data-model.md).

-- No count row: push_device_user answers "how many, and which are the oldest".
DROP TRIGGER push_device_truncated ON push_device;
DROP FUNCTION push_device_truncated();
DROP TABLE push_device_owner;

-- The application's lock (namespace 1886745347) instead of its foreign key.
ALTER TABLE push_device DROP CONSTRAINT push_device_app_id_fkey;
DELETE FROM push_device d WHERE NOT EXISTS (SELECT 1 FROM push_application a WHERE a.app_id = d.app_id);

CREATE FUNCTION push_application_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- waits for the registrations under way, and holds off new ones until the end
    PERFORM pg_advisory_xact_lock(1886745347, hashtext(OLD.app_id));
    DELETE FROM push_device d WHERE d.app_id = OLD.app_id;
    RETURN OLD;
END
$$;
CREATE TRIGGER push_application_deleting BEFORE DELETE ON push_application
    FOR EACH ROW EXECUTE FUNCTION push_application_deleting();

-- The row triggers, only where they have work. An insert has none (push_device_put
-- emits onDeviceRegister); an update that gives a row to another device id is an
-- eviction (push_device_put emits its events).
DROP TRIGGER push_device_changed ON push_device;
CREATE OR REPLACE FUNCTION push_device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_kind text;
BEGIN
    IF TG_OP = 'DELETE' THEN
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
CREATE TRIGGER push_device_deleted AFTER DELETE ON push_device
    FOR EACH ROW EXECUTE FUNCTION push_device_changed();
CREATE TRIGGER push_device_updated AFTER UPDATE ON push_device
    FOR EACH ROW WHEN (OLD.device_id = NEW.device_id AND
                       (OLD.token, OLD.user_id, OLD.platform, OLD.phone_number)
                       IS DISTINCT FROM (NEW.token, NEW.user_id, NEW.platform, NEW.phone_number))
    EXECUTE FUNCTION push_device_changed();

-- Version 9's registration, same arguments and answers, in fewer statements.
CREATE OR REPLACE FUNCTION push_device_put(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_family text, p_session text, p_filter text, p_categories text[],
    p_exclude boolean, p_extra jsonb, p_user_agent text, p_limit integer,
    p_phone text, p_known boolean)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    k1 integer := hashtext(p_app || '/d/' || p_device);
    k2 integer := hashtext(p_app || '/t/' || p_platform || '/' || p_token);
    v_old text;          -- the device id when the device exists
    v_old_user text;
    v_old_family text;
    v_holder text;       -- the other live device holding the token
    v_holder_user text;
    v_holder_family text;
    v_hooks boolean;     -- some webhook of the application listens to registry events
    v_lru text[];        -- the user's devices beyond the limit, the least recently used last
    v_referred boolean;  -- one of them has subscriptions
    v_created boolean;
    v_row push_device;
BEGIN
    -- 1. the application (shared), the device id and the token (smaller key first)
    PERFORM pg_advisory_xact_lock_shared(1886745347, hashtext(p_app)),
            pg_advisory_xact_lock(1886745345, least(k1, k2)),
            pg_advisory_xact_lock(1886745345, greatest(k1, k2));
    SELECT o.device_id, o.user_id, o.source_family, h.device_id, h.user_id, h.source_family,
           EXISTS (SELECT 1 FROM push_webhook w WHERE w.app_id = p_app)
      INTO v_old, v_old_user, v_old_family, v_holder, v_holder_user, v_holder_family, v_hooks
      FROM (SELECT) one
      LEFT JOIN push_device o ON o.app_id = p_app AND o.device_id = p_device
      LEFT JOIN push_device h ON h.app_id = p_app AND h.platform = p_platform AND h.token = p_token
                             AND h.invalid_since IS NULL AND h.device_id <> p_device;
    IF p_family <> 'mobilefirst' THEN
        -- the whole row only when another user's or the back end's is involved
        IF v_old IS NOT NULL AND (v_old_family = 'mobilefirst' OR v_old_user IS DISTINCT FROM p_user) THEN
            SELECT * INTO v_row FROM push_device e WHERE e.app_id = p_app AND e.device_id = v_old;
            IF NOT push_device_free(v_row, p_user, p_known) THEN
                RETURN NULL;
            END IF;
        END IF;
        IF v_holder IS NOT NULL AND
           (v_holder_family = 'mobilefirst' OR v_holder_user IS DISTINCT FROM p_user) THEN
            SELECT * INTO v_row FROM push_device e WHERE e.app_id = p_app AND e.device_id = v_holder;
            IF NOT push_device_free(v_row, p_user, p_known) THEN
                RETURN NULL;
            END IF;
        END IF;
    END IF;
    -- 2. the users whose devices change, in key order
    IF (v_old IS NOT NULL AND v_old_user IS DISTINCT FROM p_user) OR
       (v_holder IS NOT NULL AND v_holder_user IS DISTINCT FROM p_user) THEN
        PERFORM push_user_lock(p_app, ARRAY[p_user, v_old_user, v_holder_user]);
    ELSIF p_user IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1886745346, hashtext(p_app || '/u/' || p_user));
    END IF;

    -- 3. the rows
    IF v_holder IS NOT NULL THEN
        DELETE FROM push_device e WHERE e.app_id = p_app AND e.device_id = v_holder;
    END IF;
    IF p_limit > 0 AND p_user IS NOT NULL AND (v_old IS NULL OR v_old_user IS DISTINCT FROM p_user) THEN
        -- read under the user's lock: what committed before it is seen
        SELECT array_agg(x.device_id ORDER BY x.last_used_at DESC),
               bool_or(EXISTS (SELECT 1 FROM push_subscription s
                                WHERE s.app_id = p_app AND s.device_id = x.device_id))
          INTO v_lru, v_referred
          FROM (SELECT e.device_id, e.last_used_at FROM push_device e
                 WHERE e.app_id = p_app AND e.user_id = p_user AND e.device_id <> p_device
                 ORDER BY e.last_used_at DESC OFFSET p_limit - 1) x;
        IF v_lru IS NOT NULL AND v_old IS NULL AND NOT v_referred THEN
            -- the new device takes the row of the least recently used one
            IF v_hooks THEN
                SELECT * INTO v_row FROM push_device e
                 WHERE e.app_id = p_app AND e.device_id = v_lru[cardinality(v_lru)];
                PERFORM push_event_emit(p_app, 'onDeviceUnregister', push_device_entity(v_row));
            END IF;
            UPDATE push_device d
               SET device_id = p_device, platform = p_platform, token = p_token, user_id = p_user,
                   phone_number = p_phone, user_agent = p_user_agent, category_filter = p_filter,
                   categories = coalesce(p_categories, '{}'),
                   categories_exclude = coalesce(p_exclude, false), locale = NULL,
                   source_family = p_family, session_ref = p_session, enabled = true,
                   invalid_since = NULL, extra = coalesce(p_extra, '{}'), created_mode = DEFAULT,
                   last_used_at = clock_timestamp(), created_at = now(), updated_at = now()
             WHERE d.app_id = p_app AND d.device_id = v_lru[cardinality(v_lru)];
            v_created := FOUND;
            v_lru := v_lru[1:cardinality(v_lru) - 1];
        END IF;
        IF cardinality(v_lru) > 0 THEN
            DELETE FROM push_device d WHERE d.app_id = p_app AND d.device_id = ANY (v_lru);
        END IF;
    END IF;
    IF v_created IS NOT TRUE THEN
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
    END IF;
    IF v_created AND v_hooks THEN
        SELECT * INTO v_row FROM push_device e WHERE e.app_id = p_app AND e.device_id = p_device;
        PERFORM push_event_emit(p_app, 'onDeviceRegister', push_device_entity(v_row));
    END IF;
    RETURN v_created;
END
$$;
-- Custom plans would be made again at every call for statements whose parameters
-- change their estimates (the LRU's OFFSET); one generic plan serves them all.
ALTER FUNCTION push_device_put(text, text, text, text, text, text, text, text, text[], boolean,
                               jsonb, text, integer, text, boolean)
    SET plan_cache_mode = force_generic_plan;

-- Version 9's hot path, now calling push_device_put as an expression (no statement of
-- its own around the call).
CREATE OR REPLACE FUNCTION push_session_register(
    p_hash text, p_app text, p_device text, p_platform text, p_token text, p_family text,
    p_bind boolean, p_filter text, p_categories text[], p_exclude boolean, p_extra jsonb,
    p_user_agent text, p_limit integer)
RETURNS TABLE (user_id text, registered boolean) LANGUAGE plpgsql AS $$
BEGIN
    SELECT s.user_id INTO user_id FROM push_session s
     WHERE s.token_hash = p_hash AND s.app_id = p_app
       AND (s.expires_at IS NULL OR s.expires_at > now());
    IF NOT FOUND THEN
        user_id := NULL;
        registered := false;
    ELSE
        registered := push_device_put(p_app, p_device, p_platform, p_token, user_id, p_family,
                                      CASE WHEN p_bind THEN p_hash END, p_filter, p_categories,
                                      p_exclude, p_extra, p_user_agent, p_limit, NULL, true)
                      IS NOT NULL;
    END IF;
    RETURN NEXT;
END
$$;

-- Version 9's push.token, without the voipToken read for a record it has just found to be
-- new (no id given, no record with that token): nothing to read there.
CREATE OR REPLACE FUNCTION push_rocketchat_register(
    p_app text, p_id text, p_new_id text, p_platform text, p_token text, p_app_name text,
    p_user text, p_session text, p_user_agent text, p_voip text, p_limit integer)
RETURNS TABLE (device_id text, created_at text, updated_at text)
LANGUAGE plpgsql AS $$
DECLARE
    v_id text := p_id;
    v_voip text := p_voip;
BEGIN
    IF v_id IS NULL THEN
        SELECT d.device_id INTO v_id FROM push_device d
         WHERE d.app_id = p_app AND d.platform = p_platform AND d.token = p_token
           AND d.invalid_since IS NULL AND d.extra->>'appName' = p_app_name;
    END IF;
    IF v_id IS NULL THEN
        v_id := p_new_id;
    ELSIF v_voip IS NULL THEN
        SELECT d.extra->>'voipToken' INTO v_voip FROM push_device d
         WHERE d.app_id = p_app AND d.device_id = v_id AND d.platform = p_platform
           AND d.user_id = p_user;
    END IF;
    IF push_device_put(p_app, v_id, p_platform, p_token, p_user, 'rocketchat', p_session,
                       NULL, '{}', false,
                       jsonb_strip_nulls(jsonb_build_object('appName', p_app_name,
                                                            'voipToken', v_voip)),
                       p_user_agent, p_limit, NULL, p_session IS NOT NULL) IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT d.device_id,
           to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      FROM push_device d WHERE d.app_id = p_app AND d.device_id = v_id;
END
$$;

INSERT INTO push_schema_version (version) VALUES (12);
