-- mod_push schema, version 20: a retry never outlives the device it was for.
--
-- Version 19 cancels a removed device's pending deliveries, but not those a sender holds
-- at that moment: when such a request failed and was left to retry, its row became
-- pending again, and if the device id was registered anew before the retry (by another
-- user), the next claim read the new device's token and delivered the earlier owner's
-- message to it. Both finishes now end a retry (or a wait) cancelled, "the device was
-- removed", when the device it was read from is gone: no device under its id was made
-- before the claim (push_delivery.updated_at, which the claim sets) or the walk
-- (push_chunk.created_at). A device re-registered by the same user is a new row too; its
-- retry is cancelled as well, which errs on the side of the previous reader. And the
-- deliveries a sender holds for a device that changed owner (or was removed), which
-- version 19's cancel marks with its reason, end cancelled at the finish too. Same
-- arguments and answers.

-- As in version 17, with a retry of a device removed since its claim cancelled.
CREATE OR REPLACE FUNCTION push_delivery_finish(p_owner text, p_results jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
    v_msgs text[];
    v_i integer;
BEGIN
    -- the messages first, in one order (a cancel locks its message, then its deliveries):
    -- a cancel or an expiry that committed before is what the next statement reads
    PERFORM 1 FROM push_message m
     WHERE (m.app_id, m.message_id) IN (SELECT x.a, x.m FROM jsonb_to_recordset(p_results) AS x(a text, m text))
     ORDER BY m.app_id, m.message_id FOR UPDATE;
    WITH given AS (
        SELECT x.*, m.state AS mstate,
               -- the device the claim read is gone, or its id names a device made since
               -- (or a change of owner marked the row while it was held)
               x.s IN ('retry', 'wait') AND NOT EXISTS (
                   SELECT 1 FROM push_delivery pd JOIN push_device v
                          ON (v.app_id, v.device_id) = (pd.app_id, pd.device_id)
                    WHERE (pd.app_id, pd.message_id, pd.device_id) = (x.a, x.m, x.d)
                      AND pd.provider = coalesce(x.c, pd.provider) AND pd.lease_owner = p_owner
                      AND v.created_at <= pd.updated_at
                      AND pd.error IS DISTINCT FROM 'the device changed owner'
                      AND pd.error IS DISTINCT FROM 'the device was removed') AS removed
          FROM jsonb_to_recordset(p_results)
               AS x(a text, m text, d text, c text, s text, e text, p text, r bigint, g bigint)
          LEFT JOIN push_message m ON (m.app_id, m.message_id) = (x.a, x.m)),
    res AS (
        SELECT g.a, g.m, g.d, g.c,
               CASE WHEN g.s IN ('retry', 'wait') AND g.mstate IN ('cancelled', 'expired') THEN g.mstate
                    WHEN g.removed THEN 'cancelled' ELSE g.s END AS s,
               CASE WHEN g.removed AND coalesce(g.mstate, '') NOT IN ('cancelled', 'expired')
                    THEN coalesce((SELECT pd.error FROM push_delivery pd
                                    WHERE (pd.app_id, pd.message_id, pd.device_id) = (g.a, g.m, g.d)
                                      AND pd.lease_owner = p_owner
                                      AND pd.error IN ('the device changed owner', 'the device was removed')
                                    LIMIT 1), 'the device was removed')
                    ELSE g.e END AS e,
               g.p, g.r, g.g
          FROM given g),
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
               expired = m.expired + x.expired, cancelled = m.cancelled + x.cancelled, updated_at = now()
          FROM (SELECT u.app_id, u.message_id,
                       count(*) FILTER (WHERE u.s = 'sent') AS sent,
                       count(*) FILTER (WHERE u.s = 'failed') AS failed,
                       count(*) FILTER (WHERE u.s = 'invalid') AS invalid,
                       count(*) FILTER (WHERE u.s = 'expired') AS expired,
                       count(*) FILTER (WHERE u.s = 'cancelled') AS cancelled
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

-- As in version 17, with a retry of a device removed since the walk cancelled.
CREATE OR REPLACE FUNCTION push_chunk_finish(p_owner text, p_chunk bigint, p_sent integer, p_results jsonb)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    k push_chunk;
    v_n integer;
    v_state text;
BEGIN
    DELETE FROM push_chunk c WHERE c.chunk_id = p_chunk AND c.owner = p_owner RETURNING * INTO k;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    IF p_results = '[]'::jsonb THEN
        -- every delivery of the chunk was sent: the common case, one row to update
        -- (and the settle check in the same update: push_message_settle as a separate
        -- statement was planned again at every call, 0.2 ms per chunk)
        UPDATE push_message m
           SET sent = m.sent + p_sent, targeted = m.targeted - k.size + p_sent, updated_at = now(),
               state = CASE WHEN m.state = 'sending'
                             AND m.targeted - k.size + p_sent
                                 = m.sent + p_sent + m.failed + m.invalid + m.filtered + m.expired + m.cancelled
                            THEN 'done' ELSE m.state END
         WHERE (m.app_id, m.message_id) = (k.app_id, k.message_id);
        RETURN p_sent;
    END IF;
    -- the message's state as the last cancel or expiry left it (the lock waits for one
    -- under way): a delivery left to retry of a message that has ended ends as it did
    SELECT m.state INTO v_state FROM push_message m
     WHERE (m.app_id, m.message_id) = (k.app_id, k.message_id) FOR UPDATE;
    WITH given AS (
        SELECT x.*,
               -- the device the walk read is gone, or its id names a device made since
               x.s IN ('retry', 'wait') AND NOT EXISTS (
                   SELECT 1 FROM push_device v
                    WHERE (v.app_id, v.device_id) = (k.app_id, x.d) AND v.created_at <= k.created_at) AS removed
          FROM jsonb_to_recordset(p_results)
               AS x(d text, c text, s text, e text, p text, r bigint, g bigint)),
    res AS (
        SELECT g.d, g.c,
               CASE WHEN g.s IN ('retry', 'wait') AND v_state IN ('cancelled', 'expired') THEN v_state
                    WHEN g.removed THEN 'cancelled' ELSE g.s END AS s,
               CASE WHEN g.removed AND coalesce(v_state, '') NOT IN ('cancelled', 'expired') THEN 'the device was removed'
                    ELSE g.e END AS e,
               g.p, g.r, g.g
          FROM given g),
    ins AS (
        INSERT INTO push_delivery (app_id, message_id, device_id, provider, state, attempts,
                                   next_attempt_at, error, provider_id)
        SELECT k.app_id, k.message_id, res.d, res.c,
               CASE WHEN res.s IN ('retry', 'wait') THEN 'pending' ELSE res.s END,
               CASE WHEN res.s = 'wait' THEN 0 ELSE 1 END,
               CASE WHEN res.s IN ('retry', 'wait') THEN now() + res.r * interval '1 millisecond'
                    ELSE now() END,
               res.e, res.p
          FROM res
        ON CONFLICT DO NOTHING
        RETURNING push_delivery.device_id, push_delivery.provider),
    u AS (SELECT res.* FROM res JOIN ins ON (ins.device_id, ins.provider) = (res.d, res.c)),
    counts AS (
        UPDATE push_message m
           SET sent = m.sent + p_sent,
               failed = m.failed + (SELECT count(*) FROM u WHERE u.s = 'failed'),
               invalid = m.invalid + (SELECT count(*) FROM u WHERE u.s = 'invalid'),
               expired = m.expired + (SELECT count(*) FROM u WHERE u.s = 'expired'),
               cancelled = m.cancelled + (SELECT count(*) FROM u WHERE u.s = 'cancelled'),
               -- every delivery of the chunk has its outcome here; should one be missing,
               -- it leaves the audience rather than keep the message from settling
               targeted = m.targeted - k.size + p_sent + (SELECT count(*) FROM u),
               updated_at = now()
         WHERE (m.app_id, m.message_id) = (k.app_id, k.message_id)
        RETURNING 1),
    -- an SMS never disables the device (its push token is not what failed)
    gone AS (
        UPDATE push_device v SET invalid_since = coalesce(to_timestamp(u.g / 1000.0), now())
          FROM u
         WHERE u.s = 'invalid' AND u.c <> 'sms' AND (v.app_id, v.device_id) = (k.app_id, u.d)
           AND v.invalid_since IS NULL
           AND (u.g IS NULL OR v.last_used_at <= to_timestamp(u.g / 1000.0))
        RETURNING 1),
    events AS (
        INSERT INTO push_event (app_id, kind, payload)
        SELECT k.app_id, 'onNotificationFailure',
               jsonb_build_object('messageId', k.message_id, 'deviceIds', jsonb_build_array(u.d),
                                  'platform', push_platform_code(u.c), 'msgStatus', u.s,
                                  'failureReason', u.e)
          FROM u
         WHERE u.s IN ('failed', 'invalid', 'expired')
           AND EXISTS (SELECT 1 FROM push_webhook w
                        WHERE w.app_id = k.app_id AND 'onNotificationFailure' = ANY (w.events))
        RETURNING 1)
    SELECT p_sent + (SELECT count(*) FROM u) INTO v_n;
    -- (data-modifying CTEs run to completion whether or not they are read)
    PERFORM push_message_settle(k.app_id, k.message_id);
    RETURN v_n;
END
$$;

INSERT INTO push_schema_version (version) VALUES (20);
