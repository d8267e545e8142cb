-- mod_push schema, version 8: SMS next to push.
--
-- MobileFirst's notificationType 2 sends an SMS to each targeted device's phoneNumber, 3 a
-- push and an SMS. A device had one delivery per message (the key was app, message,
-- device); the channel (push_delivery.provider) is now part of the key, so a device can
-- have its push delivery and its 'sms' delivery of the same message. Outcomes name the
-- channel ("c") to say which of the two they are for. A targeted device without a phone
-- number gets an 'sms' delivery that is 'filtered', so summaries count it as such.

ALTER TABLE push_delivery DROP CONSTRAINT push_delivery_pkey,
    ADD PRIMARY KEY (app_id, message_id, device_id, provider);

-- Where a delivery goes: the phone number for an SMS (a device registered with the
-- platform 'sms' has it as its token), the push token otherwise. NULL: nowhere.
CREATE FUNCTION push_delivery_address(p_provider text, p_platform text, p_token text, p_phone text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_provider <> 'sms' THEN p_token
                WHEN p_phone IS NOT NULL AND p_phone <> '' THEN p_phone
                WHEN p_platform = 'sms' THEN p_token END
$$;

-- As in version 5, with a delivery per channel: the device's own platform unless the
-- message is SMS only (type 2), and 'sms' for types 2 and 3. Claims (p_claim) count
-- deliveries, not devices.
CREATE OR REPLACE FUNCTION push_message_expand(p_app text, p_msg text, p_owner text,
                                               p_chunk integer, p_lease integer, p_claim integer)
RETURNS TABLE (seen integer, device_id text, provider text, token text, topic text)
LANGUAGE plpgsql AS $$
DECLARE
    m push_message;
    v_ids text[];
    v_users text[];
    v_platforms text[];
    v_tags text[];
    v_seen integer;
    v_last text;
    v_added integer;
    v_filtered integer;
    v_devices text[];
    v_providers text[];
    v_tokens text[];
    v_topics text[];
BEGIN
    SELECT * INTO m FROM push_message
     WHERE app_id = p_app AND message_id = p_msg AND lease_owner = p_owner AND state = 'expanding';
    IF NOT FOUND THEN
        RETURN;   -- lease lost or cancelled meanwhile
    END IF;
    IF m.target ? 'deviceIds' THEN
        v_ids := ARRAY(SELECT jsonb_array_elements_text(m.target->'deviceIds'));
    ELSIF m.target ? 'userIds' THEN
        v_users := ARRAY(SELECT jsonb_array_elements_text(m.target->'userIds'));
    ELSIF m.target ? 'platforms' THEN
        v_platforms := ARRAY(SELECT jsonb_array_elements_text(m.target->'platforms'));
    ELSIF m.target ? 'tagNames' THEN
        v_tags := ARRAY(SELECT jsonb_array_elements_text(m.target->'tagNames'));
    END IF;

    BEGIN
        WITH pick AS (
            SELECT d.device_id, d.platform, d.token, d.phone_number AS phone,
                   d.extra->>'appName' AS topic,
                   (m.category IS NULL OR d.category_filter IS NULL OR d.category_filter = '*'
                    OR d.categories_exclude <> (m.category = ANY (d.categories))) AS allowed
              FROM push_device d
             WHERE d.app_id = p_app AND d.device_id > coalesce(m.expand_cursor, '')
               AND d.enabled AND d.invalid_since IS NULL
               AND (d.session_ref IS NULL OR EXISTS (
                        SELECT 1 FROM push_session s
                         WHERE s.token_hash = d.session_ref
                           AND (s.expires_at IS NULL OR s.expires_at > now())))
               AND (v_ids IS NULL OR d.device_id = ANY (v_ids))
               AND (v_users IS NULL OR d.user_id = ANY (v_users))
               AND (v_platforms IS NULL OR push_platform_code(d.platform) = ANY (v_platforms))
               AND (v_tags IS NULL OR EXISTS (
                        SELECT 1 FROM push_subscription s
                         WHERE s.app_id = p_app AND s.device_id = d.device_id
                           AND s.tag_name = ANY (v_tags)))
             ORDER BY d.device_id
             LIMIT p_chunk),
        chan AS (
            SELECT k.device_id, c.provider, k.topic,
                   push_delivery_address(c.provider, k.platform, k.token, k.phone) AS token,
                   row_number() OVER (ORDER BY k.device_id, c.provider) AS rn,
                   k.allowed AND push_delivery_address(c.provider, k.platform, k.token, k.phone)
                                 IS NOT NULL AS allowed
              FROM pick k CROSS JOIN LATERAL (
                   SELECT k.platform AS provider WHERE m.notification_type <> 2
                   UNION
                   SELECT 'sms' WHERE m.notification_type IN (2, 3)) c),
        ins AS (
            INSERT INTO push_delivery (app_id, message_id, device_id, provider, state, attempts,
                                       lease_owner, next_attempt_at, lease_until)
            SELECT p_app, p_msg, ch.device_id, ch.provider,
                   CASE WHEN ch.allowed THEN 'pending' ELSE 'filtered' END,
                   CASE WHEN ch.allowed AND ch.rn <= p_claim THEN 1 ELSE 0 END,
                   CASE WHEN ch.allowed AND ch.rn <= p_claim THEN p_owner END,
                   CASE WHEN ch.allowed AND ch.rn <= p_claim
                        THEN now() + make_interval(secs => p_lease) ELSE now() END,
                   CASE WHEN ch.allowed AND ch.rn <= p_claim
                        THEN now() + make_interval(secs => p_lease) END
              FROM chan ch
            ON CONFLICT DO NOTHING
            RETURNING push_delivery.device_id AS id, push_delivery.provider AS prov,
                      CASE WHEN lease_owner IS NULL AND state = 'pending' THEN 'due' ELSE state END AS state)
        SELECT (SELECT count(*) FROM pick), (SELECT max(pick.device_id) FROM pick),
               (SELECT count(*) FROM ins), (SELECT count(*) FROM ins WHERE ins.state = 'filtered'),
               ARRAY(SELECT i.id FROM ins i WHERE i.state = 'pending' ORDER BY i.id, i.prov),
               ARRAY(SELECT i.prov FROM ins i WHERE i.state = 'pending' ORDER BY i.id, i.prov),
               ARRAY(SELECT ch.token FROM ins i JOIN chan ch ON (ch.device_id, ch.provider) = (i.id, i.prov)
                      WHERE i.state = 'pending' ORDER BY i.id, i.prov),
               ARRAY(SELECT ch.topic FROM ins i JOIN chan ch ON (ch.device_id, ch.provider) = (i.id, i.prov)
                      WHERE i.state = 'pending' ORDER BY i.id, i.prov)
          INTO v_seen, v_last, v_added, v_filtered, v_devices, v_providers, v_tokens, v_topics;

        IF v_seen > 0 THEN
            UPDATE push_message
               SET expand_cursor = v_last, targeted = targeted + v_added,
                   filtered = filtered + v_filtered,
                   lease_until = now() + make_interval(secs => p_lease), updated_at = now()
             WHERE push_message.app_id = p_app AND push_message.message_id = p_msg
               AND lease_owner = p_owner AND state = 'expanding'
               AND expand_cursor IS NOT DISTINCT FROM m.expand_cursor;
        ELSE
            UPDATE push_message SET state = 'sending', lease_owner = NULL, lease_until = NULL,
                   updated_at = now()
             WHERE push_message.app_id = p_app AND push_message.message_id = p_msg
               AND lease_owner = p_owner AND state = 'expanding'
               AND expand_cursor IS NOT DISTINCT FROM m.expand_cursor;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PU001';
        END IF;
    EXCEPTION WHEN SQLSTATE 'PU001' THEN
        RETURN;   -- lease lost or cancelled during the chunk: the chunk is undone
    END;

    IF v_seen = 0 THEN
        PERFORM push_message_settle(p_app, p_msg);
    ELSIF coalesce(array_length(v_devices, 1), 0) = 0 THEN
        RETURN QUERY SELECT v_seen, NULL::text, NULL::text, NULL::text, NULL::text;
    ELSE
        RETURN QUERY SELECT v_seen, unnest(v_devices), unnest(v_providers), unnest(v_tokens),
                            unnest(v_topics);
    END IF;
END
$$;

-- As in version 4, per channel: token is where the delivery goes (the phone number for
-- an SMS), NULL when the device is gone, its token is dead or it has no phone number.
CREATE OR REPLACE FUNCTION push_delivery_claim(p_owner text, p_n integer, p_lease integer)
RETURNS TABLE (app_id text, message_id text, device_id text, provider text, attempts integer,
               token text, phone text, topic text)
LANGUAGE plpgsql AS $$
BEGIN
    -- EXECUTE: planned for this p_n each time (see version 4)
    RETURN QUERY EXECUTE $q$
    WITH c AS (
        SELECT d.app_id, d.message_id, d.device_id, d.provider FROM push_delivery d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now()
         ORDER BY d.next_attempt_at
         LIMIT $2 FOR UPDATE SKIP LOCKED)
    UPDATE push_delivery d
       SET lease_owner = $1, attempts = d.attempts + 1,
           next_attempt_at = now() + make_interval(secs => $3),
           lease_until = now() + make_interval(secs => $3), updated_at = now()
      FROM c LEFT JOIN push_device v
        ON v.app_id = c.app_id AND v.device_id = c.device_id AND v.enabled AND v.invalid_since IS NULL
     WHERE (d.app_id, d.message_id, d.device_id, d.provider) = (c.app_id, c.message_id, c.device_id, c.provider)
    RETURNING d.app_id, d.message_id, d.device_id, d.provider, d.attempts,
              push_delivery_address(d.provider, v.platform, v.token, v.phone_number), v.phone_number,
              CASE WHEN d.provider <> 'sms' THEN v.extra->>'appName' END
    $q$ USING p_owner, p_n, p_lease;
END
$$;

-- As in version 7; each result also names its channel: c = push_delivery.provider
-- (a result without one is for the device's only delivery of that message).
CREATE OR REPLACE FUNCTION push_delivery_finish(p_owner text, p_results jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
    v_msgs text[];
    v_i integer;
BEGIN
    WITH res AS (
        SELECT * FROM jsonb_to_recordset(p_results)
                      AS x(a text, m text, d text, c text, s text, e text, p text, r bigint, g bigint)),
    sent AS (
        DELETE FROM push_delivery d USING res
         WHERE res.s = 'sent' AND (d.app_id, d.message_id, d.device_id) = (res.a, res.m, res.d)
           AND d.provider = coalesce(res.c, d.provider) AND d.lease_owner = p_owner
        RETURNING d.app_id, d.message_id, d.device_id, d.provider, res.s, res.g, res.e),
    other AS (
        UPDATE push_delivery d
           SET state = CASE WHEN res.s IN ('retry', 'wait') THEN 'pending' ELSE res.s END,
               attempts = CASE WHEN res.s = 'wait' THEN greatest(d.attempts - 1, 0) ELSE d.attempts END,
               error = res.e, provider_id = coalesce(res.p, d.provider_id),
               next_attempt_at = CASE WHEN res.s IN ('retry', 'wait')
                                      THEN now() + res.r * interval '1 millisecond'
                                      ELSE d.next_attempt_at END,
               lease_owner = NULL, lease_until = NULL, updated_at = now()
          FROM res
         WHERE res.s <> 'sent' AND (d.app_id, d.message_id, d.device_id) = (res.a, res.m, res.d)
           AND d.provider = coalesce(res.c, d.provider) AND d.lease_owner = p_owner
        RETURNING d.app_id, d.message_id, d.device_id, d.provider, res.s, res.g, res.e),
    u AS (SELECT * FROM sent UNION ALL SELECT * FROM other),
    counts AS (
        UPDATE push_message m
           SET sent = m.sent + x.sent, failed = m.failed + x.failed, invalid = m.invalid + x.invalid,
               expired = m.expired + x.expired, updated_at = now()
          FROM (SELECT u.app_id, u.message_id,
                       count(*) FILTER (WHERE u.s = 'sent') AS sent,
                       count(*) FILTER (WHERE u.s = 'failed') AS failed,
                       count(*) FILTER (WHERE u.s = 'invalid') AS invalid,
                       count(*) FILTER (WHERE u.s = 'expired') AS expired
                  FROM u WHERE u.s NOT IN ('retry', 'wait') GROUP BY 1, 2) x
         WHERE (m.app_id, m.message_id) = (x.app_id, x.message_id)
        RETURNING m.app_id, m.message_id),
    -- an SMS never disables the device (its push token is not what failed)
    gone AS (
        UPDATE push_device v SET invalid_since = coalesce(to_timestamp(u.g / 1000.0), now())
          FROM u
         WHERE u.s = 'invalid' AND u.provider <> 'sms' AND (v.app_id, v.device_id) = (u.app_id, u.device_id)
           AND v.invalid_since IS NULL
           AND (u.g IS NULL OR v.last_used_at <= to_timestamp(u.g / 1000.0))
        RETURNING 1),
    events AS (
        INSERT INTO push_event (app_id, kind, payload)
        SELECT u.app_id, 'onNotificationFailure',
               jsonb_build_object('messageId', u.message_id, 'deviceIds', jsonb_build_array(u.device_id),
                                  'platform', push_platform_code(u.provider), 'msgStatus', u.s,
                                  'failureReason', u.e)
          FROM u
         WHERE u.s IN ('failed', 'invalid', 'expired')
           AND EXISTS (SELECT 1 FROM push_webhook w
                        WHERE w.app_id = u.app_id AND 'onNotificationFailure' = ANY (w.events))
        RETURNING 1)
    SELECT (SELECT count(*) FROM u),
           ARRAY(SELECT DISTINCT c.app_id || '/' || c.message_id FROM counts c)
      INTO v_n, v_msgs;
    -- (data-modifying CTEs run to completion whether or not they are read)
    FOR v_i IN 1 .. coalesce(array_length(v_msgs, 1), 0) LOOP
        PERFORM push_message_settle(split_part(v_msgs[v_i], '/', 1),
                                    substr(v_msgs[v_i], length(split_part(v_msgs[v_i], '/', 1)) + 2));
    END LOOP;
    RETURN v_n;
END
$$;

ALTER FUNCTION push_delivery_finish(text, jsonb) SET plan_cache_mode = force_custom_plan;

INSERT INTO push_schema_version (version) VALUES (8);
