-- mod_push schema, version 7: a delivery may wait without spending an attempt, and
-- Rocket.Chat registrations keep the VoIP token newer apps send.
--
-- A delivery whose credential has no bearer token yet (the FCM access token is fetched
-- on the sender's credential thread, and a token endpoint may be slow or failing) is
-- handed back as 'wait': due again after the given delay, its attempt not counted, so
-- that a slow token endpoint does not use up the attempts of its application's
-- deliveries while they wait for it.

-- Writes a batch of outcomes (sent deliveries leave the outbox; the message counts them).
-- p_results: [{a, m, d, s, e, p, r, g}] = app, message,
-- device, outcome ('sent' | 'failed' | 'invalid' | 'expired' | 'retry' | 'wait'), error,
-- provider id, retry delay in ms ('wait': not tried, so the attempt does not count), and for 'invalid' the provider's "gone since" in ms (APNs 410:
-- a device registered again after that moment stays live). Only rows this owner still
-- holds are written. Returns the number written.
CREATE OR REPLACE FUNCTION push_delivery_finish(p_owner text, p_results jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
    v_msgs text[];
    v_i integer;
BEGIN
    WITH res AS (
        SELECT * FROM jsonb_to_recordset(p_results)
                      AS x(a text, m text, d text, s text, e text, p text, r bigint, g bigint)),
    -- a sent delivery leaves the outbox (the message counts it); the others stay, with
    -- their error, for retries and for the record. Only rows this owner holds: a held
    -- row is always pending (no state test here: it would lead the planner to scan
    -- every pending row through the partial index instead of looking each key up).
    sent AS (
        DELETE FROM push_delivery d USING res
         WHERE res.s = 'sent' AND (d.app_id, d.message_id, d.device_id) = (res.a, res.m, res.d)
           AND d.lease_owner = p_owner
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
           AND d.lease_owner = p_owner
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
    gone AS (
        UPDATE push_device v SET invalid_since = coalesce(to_timestamp(u.g / 1000.0), now())
          FROM u
         WHERE u.s = 'invalid' AND (v.app_id, v.device_id) = (u.app_id, u.device_id)
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

-- Rocket.Chat's push.token with the VoIP (PushKit) token of newer iOS apps, kept in the
-- device's extra as voipToken; a registration without one keeps the one stored.
DROP FUNCTION push_rocketchat_register(text, text, text, text, text, text, text, text, text);
CREATE FUNCTION push_rocketchat_register(
    p_app text, p_id text, p_new_id text, p_platform text, p_token text, p_app_name text,
    p_user text, p_session text, p_user_agent text, p_voip text)
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
         WHERE d.app_id = p_app AND d.device_id = v_id AND d.platform = p_platform;
    END IF;
    PERFORM push_device_register(p_app, v_id, p_platform, p_token, p_user, 'rocketchat', p_session,
                                 NULL, '{}', false,
                                 jsonb_strip_nulls(jsonb_build_object('appName', p_app_name,
                                                                      'voipToken', v_voip)),
                                 p_user_agent, 0);
    RETURN QUERY
    SELECT d.device_id,
           to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      FROM push_device d WHERE d.app_id = p_app AND d.device_id = v_id;
END
$$;

INSERT INTO push_schema_version (version) VALUES (7);
