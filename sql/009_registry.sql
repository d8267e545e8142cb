-- mod_push schema, version 9: the registry without deadlocks, per-user device counts
-- (the LRU eviction only when a user is over the limit), devices that belong to their
-- users, and push.get against the audience a message reached (docs/data-model.md).

-- How many devices each user of an application has, kept by triggers on push_device, so
-- that a registration learns whether its user is over the limit by reading one row.
-- No foreign key to push_application: every registration would lock the application's
-- row for it (FOR KEY SHARE, a MultiXact under concurrency); an application's devices
-- go with it (their foreign key), and the trigger then brings its counts to 0.
CREATE TABLE push_device_owner (
    app_id   text NOT NULL,
    user_id  text NOT NULL,
    devices  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, user_id)
);
INSERT INTO push_device_owner (app_id, user_id, devices)
     SELECT app_id, user_id, count(*) FROM push_device WHERE user_id IS NOT NULL
      GROUP BY app_id, user_id;

-- The pending deliveries of a device, cancelled when the device changes owner.
CREATE INDEX push_delivery_device_pending ON push_delivery (app_id, device_id)
    WHERE state = 'pending';

-- Who a message reached: the owners of the devices its deliveries were made for, at the
-- time they were made (sent deliveries are removed; these rows stay with the message).
-- push.get authorizes against them, so a device that changes hands later does not lend
-- its new owner the old owner's messages.
CREATE TABLE push_message_recipient (
    app_id      text NOT NULL,
    message_id  text NOT NULL,
    user_id     text NOT NULL,
    PRIMARY KEY (app_id, message_id, user_id),
    FOREIGN KEY (app_id, message_id) REFERENCES push_message ON DELETE CASCADE
);

-- Once per statement (an expansion chunk), not per delivery.
CREATE FUNCTION push_delivery_recipients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_message_recipient (app_id, message_id, user_id)
    SELECT DISTINCT n.app_id, n.message_id, d.user_id
      FROM made n JOIN push_device d ON d.app_id = n.app_id AND d.device_id = n.device_id
     WHERE d.user_id IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_delivery_recipients AFTER INSERT ON push_delivery
    REFERENCING NEW TABLE AS made FOR EACH STATEMENT EXECUTE FUNCTION push_delivery_recipients();

-- A device's queued deliveries end when it changes owner: they were meant for the
-- previous one. Those a sender holds right now finish as what they become (as in
-- push_message_cancel); the messages count the others as cancelled and settle.
CREATE FUNCTION push_device_cancel_pending(p_app text, p_device text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        WITH c AS (
            UPDATE push_delivery SET state = 'cancelled', lease_owner = NULL, updated_at = now(),
                   error = 'the device changed owner'
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

-- One row trigger for everything a device change sets off (it replaces version 2's
-- push_device_events, whose events it writes the same way): the owners' device counts,
-- the cancelled deliveries of a device that changes owner, and the registry events,
-- built only when some webhook of the application listens for them. One trigger call
-- per row instead of two is a good part of a registration's cost.
DROP TRIGGER push_device_events ON push_device;
CREATE FUNCTION push_device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_kind text;
    v_app text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_app := NEW.app_id;
        v_kind := 'onDeviceRegister';
        IF NEW.user_id IS NOT NULL THEN
            INSERT INTO push_device_owner AS o (app_id, user_id, devices)
            VALUES (NEW.app_id, NEW.user_id, 1)
            ON CONFLICT (app_id, user_id) DO UPDATE SET devices = o.devices + 1;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        v_app := OLD.app_id;
        v_kind := 'onDeviceUnregister';
        IF OLD.user_id IS NOT NULL THEN
            UPDATE push_device_owner SET devices = devices - 1
             WHERE app_id = OLD.app_id AND user_id = OLD.user_id;
        END IF;
    ELSE
        v_app := NEW.app_id;
        IF OLD.user_id IS DISTINCT FROM NEW.user_id THEN
            IF OLD.user_id IS NOT NULL THEN
                UPDATE push_device_owner SET devices = devices - 1
                 WHERE app_id = OLD.app_id AND user_id = OLD.user_id;
            END IF;
            IF NEW.user_id IS NOT NULL THEN
                INSERT INTO push_device_owner AS o (app_id, user_id, devices)
                VALUES (NEW.app_id, NEW.user_id, 1)
                ON CONFLICT (app_id, user_id) DO UPDATE SET devices = o.devices + 1;
            END IF;
            PERFORM push_device_cancel_pending(NEW.app_id, NEW.device_id);
        END IF;
        IF (NEW.token, NEW.user_id, NEW.platform, NEW.phone_number)
           IS DISTINCT FROM (OLD.token, OLD.user_id, OLD.platform, OLD.phone_number) THEN
            v_kind := 'onDeviceUpdate';
        END IF;
    END IF;
    IF v_kind IS NOT NULL AND
       EXISTS (SELECT 1 FROM push_webhook w WHERE w.app_id = v_app AND v_kind = ANY (w.events)) THEN
        PERFORM push_event_emit(v_app, v_kind,
                                push_device_entity(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_device_changed AFTER INSERT OR UPDATE OR DELETE ON push_device
    FOR EACH ROW EXECUTE FUNCTION push_device_changed();

CREATE FUNCTION push_device_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM push_device_owner;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_device_truncated AFTER TRUNCATE ON push_device
    FOR EACH STATEMENT EXECUTE FUNCTION push_device_truncated();

-- Registry events (version 2) in plpgsql: a LANGUAGE sql function that is not inlined
-- is planned again at every call, and the device triggers call this one for every
-- registration (twice when one evicts); plpgsql keeps its plans for the session.
CREATE OR REPLACE FUNCTION push_event_emit(p_app text, p_kind text, p_entity jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM push_webhook w WHERE w.app_id = p_app AND p_kind = ANY (w.events)) THEN
        INSERT INTO push_event (app_id, kind, payload)
        SELECT p_app, p_kind, p_entity
         WHERE EXISTS (SELECT 1 FROM push_application a WHERE a.app_id = p_app);
    END IF;
END
$$;

-- The lock order of everything that registers or re-tokens a device:
--   1. transaction-scoped advisory locks on the device id and on the token
--      (namespace 1886745345), the smaller key first;
--   2. advisory locks on every user whose devices the registration changes: the
--      caller, the device's owner, the owner of the device holding the token
--      (namespace 1886745346), in key order;
--   3. the device rows (the token's old device deleted, the device upserted), then the
--      per-user counts (push_device_owner, by trigger);
--   4. the eviction of the user's least recently used devices, which skips rows another
--      transaction holds rather than waiting for them.
-- Two registrations wait for each other at step 1 or 2, never in a cycle.
CREATE FUNCTION push_device_lock(p_app text, p_device text, p_platform text, p_token text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k1 integer := hashtext(p_app || '/d/' || p_device);
    k2 integer := hashtext(p_app || '/t/' || p_platform || '/' || coalesce(p_token, ''));
BEGIN
    IF p_token IS NULL THEN
        PERFORM pg_advisory_xact_lock(1886745345, k1);
    ELSE
        PERFORM pg_advisory_xact_lock(1886745345, least(k1, k2));
        PERFORM pg_advisory_xact_lock(1886745345, greatest(k1, k2));
    END IF;
END
$$;

CREATE FUNCTION push_user_lock(p_app text, p_users text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k integer;
BEGIN
    FOR k IN SELECT DISTINCT hashtext(p_app || '/u/' || u) FROM unnest(p_users) u
              WHERE u IS NOT NULL ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(1886745346, k);
    END LOOP;
END
$$;

-- Whether an end user's registration may take device d over for p_user: a device of the
-- caller's or of nobody's, or one whose owner is gone: the built-in session it was bound
-- to ended (Rocket.Chat, Navixy), or (no session bound: Layer) the owner holds no live
-- built-in session of the application. p_known says whether the caller's sessions are
-- built-in ones; with PushSessionSource sql or remote-user mod_push cannot see whether
-- the owner is still logged in, so another user's device is never taken. A device the
-- back end registered through the MobileFirst API is never an end user's to take.
CREATE FUNCTION push_device_free(d push_device, p_user text, p_known boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT d.source_family <> 'mobilefirst'
       AND (d.user_id IS NULL OR d.user_id = p_user
            OR (p_known AND CASE
                WHEN d.session_ref IS NOT NULL THEN NOT EXISTS (
                    SELECT 1 FROM push_session s WHERE s.token_hash = d.session_ref
                       AND (s.expires_at IS NULL OR s.expires_at > now()))
                ELSE NOT EXISTS (
                    SELECT 1 FROM push_session s WHERE s.app_id = d.app_id AND s.user_id = d.user_id
                       AND (s.expires_at IS NULL OR s.expires_at > now()))
                END))
$$;

-- Registers or replaces one device (what push_device_register of version 2 did, in the
-- lock order above and without a subtransaction):
--  * the live device holding the token under another id leaves it (one live row per token);
--  * re-registering a device id replaces its token, owner and filter;
--  * a user at p_limit devices (p_limit > 0) loses the least recently used ones first.
-- An end user's registration (p_family other than mobilefirst) that would take another
-- user's device or token (push_device_free) changes nothing and answers NULL; otherwise
-- true when the device was new.
CREATE FUNCTION push_device_put(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_family text, p_session text, p_filter text, p_categories text[],
    p_exclude boolean, p_extra jsonb, p_user_agent text, p_limit integer,
    p_phone text, p_known boolean)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_old text;          -- the device id when the device exists
    v_old_user text;
    v_old_family text;
    v_holder text;       -- the other live device holding the token
    v_holder_user text;
    v_holder_family text;
    v_created boolean;
    v_count integer;
    k1 integer;
    k2 integer;
    v_row push_device;
BEGIN
    -- push_device_lock, written out: this is every registration's path
    k1 := hashtext(p_app || '/d/' || p_device);
    k2 := hashtext(p_app || '/t/' || p_platform || '/' || p_token);
    PERFORM pg_advisory_xact_lock(1886745345, least(k1, k2)),
            pg_advisory_xact_lock(1886745345, greatest(k1, k2));
    SELECT e.device_id, e.user_id, e.source_family INTO v_old, v_old_user, v_old_family
      FROM push_device e WHERE e.app_id = p_app AND e.device_id = p_device;
    SELECT e.device_id, e.user_id, e.source_family INTO v_holder, v_holder_user, v_holder_family
      FROM push_device e
     WHERE e.app_id = p_app AND e.platform = p_platform AND e.token = p_token
       AND e.invalid_since IS NULL AND e.device_id <> p_device;
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
    IF (v_old IS NOT NULL AND v_old_user IS DISTINCT FROM p_user) OR
       (v_holder IS NOT NULL AND v_holder_user IS DISTINCT FROM p_user) THEN
        PERFORM push_user_lock(p_app, ARRAY[p_user, v_old_user, v_holder_user]);
    ELSIF p_user IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1886745346, hashtext(p_app || '/u/' || p_user));
    END IF;

    IF v_holder IS NOT NULL THEN
        DELETE FROM push_device e WHERE e.app_id = p_app AND e.device_id = v_holder;
    END IF;
    -- room for a device new to the user: read the count, evict only when it is reached
    IF p_limit > 0 AND p_user IS NOT NULL AND (v_old IS NULL OR v_old_user IS DISTINCT FROM p_user) THEN
        SELECT o.devices INTO v_count FROM push_device_owner o
         WHERE o.app_id = p_app AND o.user_id = p_user;
        IF v_count >= p_limit THEN
            -- a CTE: evaluated once (an IN subquery with a LIMIT may run again per row)
            WITH lru AS (
                SELECT e.device_id FROM push_device e
                 WHERE e.app_id = p_app AND e.user_id = p_user AND e.device_id <> p_device
                 ORDER BY e.last_used_at
                 LIMIT v_count - p_limit + 1
                   FOR UPDATE SKIP LOCKED)
            DELETE FROM push_device d USING lru
             WHERE d.app_id = p_app AND d.device_id = lru.device_id;
        END IF;
    END IF;

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
    RETURN v_created;
END
$$;

-- Version 2's entry point, same arguments. The caller's sessions count as built-in ones
-- when it names one (p_session): Navixy and Rocket.Chat bind the session that registers.
-- NULL when an end user's registration was refused (push_device_put).
DROP FUNCTION push_device_register(text, text, text, text, text, text, text, text, text[],
                                   boolean, jsonb, text, integer, text);
CREATE FUNCTION push_device_register(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_family text, p_session text, p_filter text, p_categories text[],
    p_exclude boolean, p_extra jsonb, p_user_agent text, p_limit integer,
    p_phone text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RETURN push_device_put(p_app, p_device, p_platform, p_token, p_user, p_family, p_session,
                           p_filter, p_categories, p_exclude, p_extra, p_user_agent, p_limit,
                           p_phone, p_session IS NOT NULL);
END
$$;

-- The user-facing dialects' hot path (version 2), now also saying whether the device
-- was registered: user_id NULL when the session is not live; registered false when the
-- device or token is another user's (push_device_free).
DROP FUNCTION push_session_register(text, text, text, text, text, text, boolean, text, text[],
                                    boolean, jsonb, text, integer);
CREATE FUNCTION push_session_register(
    p_hash text, p_app text, p_device text, p_platform text, p_token text, p_family text,
    p_bind boolean, p_filter text, p_categories text[], p_exclude boolean, p_extra jsonb,
    p_user_agent text, p_limit integer)
RETURNS TABLE (user_id text, registered boolean) LANGUAGE plpgsql AS $$
DECLARE
    v_user text;
BEGIN
    SELECT s.user_id INTO v_user FROM push_session s
     WHERE s.token_hash = p_hash AND s.app_id = p_app
       AND (s.expires_at IS NULL OR s.expires_at > now());
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::text, false;
        RETURN;
    END IF;
    RETURN QUERY SELECT v_user,
        push_device_put(p_app, p_device, p_platform, p_token, v_user, p_family,
                        CASE WHEN p_bind THEN p_hash END, p_filter, p_categories, p_exclude,
                        p_extra, p_user_agent, p_limit, NULL, true) IS NOT NULL;
END
$$;

-- MobileFirst's device registration (version 2): the back end's, never refused.
CREATE OR REPLACE FUNCTION push_device_register_mf(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_phone text, p_user_agent text)
RETURNS SETOF push_device LANGUAGE plpgsql AS $$
BEGIN
    IF push_device_put(p_app, p_device, p_platform, p_token, p_user, 'mobilefirst',
                       NULL, NULL, '{}', false, '{}', p_user_agent, 0, p_phone, false) THEN
        INSERT INTO push_subscription (app_id, subscription_id, device_id, tag_name)
        VALUES (p_app, gen_random_uuid()::text, p_device, 'Push.all')
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY SELECT d.* FROM push_device d WHERE d.app_id = p_app AND d.device_id = p_device;
END
$$;

-- MobileFirst's device update (version 2) in the registry's lock order: the device and
-- the new token first, then the users whose devices change.
CREATE OR REPLACE FUNCTION push_device_update_mf(
    p_app text, p_device text, p_token text, p_set_user boolean, p_user text,
    p_set_phone boolean, p_phone text, p_user_agent text)
RETURNS SETOF push_device LANGUAGE plpgsql AS $$
DECLARE
    v_old push_device;
    v_holder text;
BEGIN
    SELECT d.* INTO v_old FROM push_device d WHERE d.app_id = p_app AND d.device_id = p_device;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM push_device_lock(p_app, p_device, v_old.platform, p_token);
    IF p_token IS NOT NULL THEN
        SELECT d.user_id INTO v_holder FROM push_device d
         WHERE d.app_id = p_app AND d.platform = v_old.platform AND d.token = p_token
           AND d.device_id <> p_device AND d.invalid_since IS NULL;
    END IF;
    PERFORM push_user_lock(p_app, ARRAY[v_old.user_id, v_holder,
                                        CASE WHEN p_set_user THEN p_user END]);
    IF p_token IS NOT NULL THEN
        DELETE FROM push_device d WHERE d.app_id = p_app AND d.platform = v_old.platform
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

-- Rocket.Chat's push.token (version 7) with the per-user limit, and refused (no row)
-- when the record named by id, or the one holding the token, is another user's
-- (push_device_free).
DROP FUNCTION push_rocketchat_register(text, text, text, text, text, text, text, text, text, text);
CREATE FUNCTION push_rocketchat_register(
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
        v_id := coalesce(v_id, p_new_id);
    END IF;
    IF v_voip IS NULL THEN
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

-- Rocket.Chat's push.get (version 4): addressed to the caller by user id, or delivered
-- to them: one of the devices the message's deliveries were made for was theirs then
-- (push_message_recipient), whoever holds that device now.
CREATE OR REPLACE FUNCTION push_rocketchat_message(p_app text, p_id text, p_user text)
RETURNS TABLE (body text, created_at text, updated_at text, allowed boolean, host text)
LANGUAGE sql STABLE AS $$
    SELECT m.body::text,
           to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           (m.target ? 'userIds' AND m.target->'userIds' ? p_user) OR EXISTS (
               SELECT 1 FROM push_message_recipient r
                WHERE r.app_id = p_app AND r.message_id = m.message_id AND r.user_id = p_user),
           a.settings->>'host'
      FROM push_message m JOIN push_application a ON a.app_id = m.app_id
     WHERE m.app_id = p_app AND m.message_id = p_id
$$;

INSERT INTO push_schema_version (version) VALUES (9);
