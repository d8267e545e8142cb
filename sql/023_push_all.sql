-- mod_push schema, version 23: every device is subscribed to Push.all, whatever its dialect.
--
-- MobileFirst's contract (shared/docs/api-mobilefirst.md, Devices): "Every device is
-- subscribed to the reserved tag Push.all (a broadcast tag) unless it unsubscribes."
-- Since version 2 only push_device_register_mf subscribed a new device; devices
-- registered through Rocket.Chat, Layer or Navixy (push_device_put) had no Push.all, so
-- a message to tagNames ["Push.all"] reached fewer devices than a broadcast, the tag's
-- subscriptionCount counted MobileFirst's devices only, and GET subscriptions?deviceId=
-- of a Rocket.Chat device answered none. Now:
--  * push_device_put subscribes the device it creates (its answer is true: a new device
--    id, or a new device given an evicted device's row), in the same function, one
--    INSERT ... ON CONFLICT DO NOTHING: the MobileFirst path's subscription, moved down
--    so that every dialect gets it. A device registered again (answer false) keeps its
--    subscriptions as they are, as MobileFirst's always did: one that unsubscribed from
--    Push.all stays out.
--  * an eviction still gives the least recently used device's row to the new device when
--    nothing but its Push.all refers to it (version 12), deleting that subscription
--    first; any other subscription still makes it a DELETE and an INSERT. Without this,
--    every device having Push.all, no eviction at the limit would reuse a row any more.
--  * push_device_register_mf leaves the subscription to push_device_put (same answers).
--  * so that a registration at the limit does not pay for Push.all twice, the row given
--    to the new device keeps its Push.all (the subscription's device key follows the row,
--    ON UPDATE CASCADE) unless a webhook listens.
--  * existing devices of Rocket.Chat, Layer and Navixy without Push.all get it (below).

-- A device's subscriptions follow its row when an eviction gives the row to a new device
-- (the device id changes in place): the new device keeps the Push.all it found there
-- instead of a DELETE and an INSERT per registration at the limit.
DO $$
DECLARE
    v_name text;
BEGIN
    SELECT c.conname INTO v_name FROM pg_constraint c
     WHERE c.conrelid = 'push_subscription'::regclass AND c.confrelid = 'push_device'::regclass
       AND c.contype = 'f';
    EXECUTE format('ALTER TABLE push_subscription DROP CONSTRAINT %I', v_name);
END
$$;
ALTER TABLE push_subscription ADD FOREIGN KEY (app_id, device_id) REFERENCES push_device
    ON DELETE CASCADE ON UPDATE CASCADE;

-- Version 12's registration, subscribing the device it creates to Push.all.
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
    v_referred boolean;  -- one of them has subscriptions besides Push.all
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
                                WHERE s.app_id = p_app AND s.device_id = x.device_id
                                  AND s.tag_name <> 'Push.all'))
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
            -- its Push.all follows the row to the new device (ON UPDATE CASCADE), unless a
            -- webhook listens: then it goes (onUnsubscribe) and the new device gets its
            -- own below (onSubscribe)
            IF v_hooks THEN
                DELETE FROM push_subscription s
                 WHERE s.app_id = p_app AND s.device_id = v_lru[cardinality(v_lru)]
                   AND s.tag_name = 'Push.all';
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
    IF v_created THEN
        -- a new device, of any dialect, is subscribed to the broadcast tag (as version 2
        -- did for MobileFirst's only); a device registered again keeps what it has, so
        -- one unsubscribed from Push.all stays out. From push_tag, not VALUES: a device
        -- of an application the database does not know (a location's PushApplication
        -- before pushctl app add) is stored as before, without a subscription.
        INSERT INTO push_subscription (app_id, subscription_id, device_id, tag_name)
        SELECT p_app, gen_random_uuid()::text, p_device, t.name FROM push_tag t
         WHERE t.app_id = p_app AND t.name = 'Push.all'
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN v_created;
END
$$;
-- As in version 12 (CREATE OR REPLACE drops the setting): one generic plan.
ALTER FUNCTION push_device_put(text, text, text, text, text, text, text, text, text[], boolean,
                               jsonb, text, integer, text, boolean)
    SET plan_cache_mode = force_generic_plan;

-- MobileFirst's registration of version 9: the subscription to Push.all is now
-- push_device_put's, for a new device as before.
CREATE OR REPLACE FUNCTION push_device_register_mf(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_phone text, p_user_agent text)
RETURNS SETOF push_device LANGUAGE plpgsql AS $$
BEGIN
    PERFORM push_device_put(p_app, p_device, p_platform, p_token, p_user, 'mobilefirst',
                            NULL, NULL, '{}', false, '{}', p_user_agent, 0, p_phone, false);
    RETURN QUERY SELECT d.* FROM push_device d WHERE d.app_id = p_app AND d.device_id = p_device;
END
$$;

-- The devices Rocket.Chat, Layer and Navixy registered before this version never got
-- Push.all, so one without it never had it: it gets it now. (The one case the schema
-- cannot see: a back end that subscribed such a device to Push.all by hand and then
-- unsubscribed it; it is subscribed again.) A MobileFirst device without Push.all
-- unsubscribed from it, or was an end user's device that the back end registered again
-- (which subscribed nothing); the schema cannot tell which, so MobileFirst's devices are
-- left as they are. No onSubscribe event is written for these: nobody subscribed them
-- now, and an upgrade must not send a tenant's webhook one POST per device it has.
ALTER TABLE push_subscription DISABLE TRIGGER push_subscription_events;
INSERT INTO push_subscription (app_id, subscription_id, device_id, tag_name)
SELECT d.app_id, gen_random_uuid()::text, d.device_id, t.name
  FROM push_device d
  JOIN push_tag t ON t.app_id = d.app_id AND t.name = 'Push.all'
 WHERE d.source_family <> 'mobilefirst'
ON CONFLICT DO NOTHING;
ALTER TABLE push_subscription ENABLE TRIGGER push_subscription_events;

INSERT INTO push_schema_version (version) VALUES (23);
