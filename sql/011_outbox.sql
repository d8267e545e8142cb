-- mod_push schema, version 11: the outbox holds exceptions only.
--
-- Until version 8 every targeted device got a push_delivery row when its message was
-- expanded, and lost it when it was sent: a broadcast to a million devices wrote (and
-- indexed, and deleted, and vacuumed) a million rows. Now an audience is walked in
-- keyset chunks straight from push_device: a chunk is a range of device ids
-- (after_id, upto_id] under a lease (push_chunk), not rows. The message's cursor and
-- counters and the chunk rows are the durable state. Only what needs a record gets a
-- push_delivery row: a delivery that waits for a retry, one that failed, was refused
-- as invalid, expired, or was filtered. A chunk's outcomes are written in one
-- statement that also deletes the chunk: either all of them count or none.
--
-- A sender killed in the middle of a chunk leaves the chunk row behind; once its lease
-- has run out another sender takes it (push_chunk_reclaim), walks the same range again
-- and sends to every device of it that has no push_delivery row: what the dead sender
-- had sent of that chunk is sent a second time (at most the chunks under way in its
-- workers, PushSenderThreads chunks of at most PushSenderBatch devices). A sender that
-- stops in order gives back the chunks it had not started (their lease ends at once),
-- which nobody has received yet. Several senders share a broadcast by leasing
-- different chunks of it: the chunk that advances the cursor locks the message row for
-- the length of one walk of at most PushSenderBatch devices.

CREATE TABLE push_chunk (
    chunk_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id      text NOT NULL,
    message_id  text NOT NULL,
    after_id    text NOT NULL,            -- the range is after_id < device_id <= upto_id
    upto_id     text NOT NULL,
    size        integer NOT NULL,         -- deliveries handed out; counted in targeted
    owner       text,                     -- NULL: given back, anyone may take it
    lease_until timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (app_id, message_id) REFERENCES push_message ON DELETE CASCADE
);
CREATE INDEX push_chunk_message ON push_chunk (app_id, message_id);
CREATE INDEX push_chunk_lease ON push_chunk (lease_until);
CREATE INDEX push_chunk_owner ON push_chunk (owner);

-- The deliveries of a message's audience in device-id order: devices after p_after, up
-- to p_upto (NULL: no end), at most p_limit devices (NULL: all). One row per channel:
-- the device's own platform unless the message is SMS only (type 2), and 'sms' for
-- types 2 and 3. allowed is false for a delivery the device's category filter refuses,
-- or an SMS to a device without a phone number (a 'filtered' delivery). Devices
-- registered by a session that has ended, disabled devices and dead tokens are not in
-- the audience.
CREATE FUNCTION push_audience(p_app text, p_msg text, p_after text, p_upto text, p_limit integer)
RETURNS TABLE (device_id text, provider text, token text, topic text, allowed boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m push_message;
    v_ids text[];
    v_users text[];
    v_platforms text[];
    v_tags text[];
BEGIN
    SELECT * INTO m FROM push_message WHERE app_id = p_app AND message_id = p_msg;
    IF NOT FOUND THEN
        RETURN;
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
    IF m.notification_type = 1 THEN
        -- push only (what nearly every message is): one delivery per device, on its platform,
        -- in the index's order
        RETURN QUERY
        SELECT d.device_id, d.platform, d.token, d.extra->>'appName',
               (m.category IS NULL OR d.category_filter IS NULL OR d.category_filter = '*'
                OR d.categories_exclude <> (m.category = ANY (d.categories))) AND d.token IS NOT NULL
          FROM push_device d
         WHERE d.app_id = p_app AND d.device_id > p_after
           AND (p_upto IS NULL OR d.device_id <= p_upto)
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
         LIMIT p_limit;
        RETURN;
    END IF;
    RETURN QUERY
    WITH pick AS (
        SELECT d.device_id, d.platform, d.token, d.phone_number AS phone,
               d.extra->>'appName' AS topic,
               (m.category IS NULL OR d.category_filter IS NULL OR d.category_filter = '*'
                OR d.categories_exclude <> (m.category = ANY (d.categories))) AS allowed
          FROM push_device d
         WHERE d.app_id = p_app AND d.device_id > p_after
           AND (p_upto IS NULL OR d.device_id <= p_upto)
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
         LIMIT p_limit)
    SELECT k.device_id, c.provider,
           push_delivery_address(c.provider, k.platform, k.token, k.phone),
           k.topic,
           k.allowed AND push_delivery_address(c.provider, k.platform, k.token, k.phone) IS NOT NULL
      FROM pick k CROSS JOIN LATERAL (
           SELECT k.platform AS provider WHERE m.notification_type <> 2
           UNION
           SELECT 'sms' WHERE m.notification_type IN (2, 3)) c
     ORDER BY k.device_id, c.provider;
END
$$;
-- planned for each call's range and limit, not once for all
ALTER FUNCTION push_audience(text, text, text, text, integer) SET plan_cache_mode = force_custom_plan;

-- The next chunks of an expanding message's audience, leased to p_owner for p_lease
-- seconds: up to p_chunks chunks of at most p_chunk devices each after the cursor, walked
-- in one statement (what a call costs beside the walk — the message row's lock and update,
-- the plans — is shared by the chunks). Any sender may take the next chunks of a message
-- (the message row is locked while they are walked). Returns one row per delivery (chunk_id,
-- device, channel, where it goes, Rocket.Chat appName), chunk by chunk; a single row with
-- chunk_id 0 when the chunks had nothing to send (all of it filtered); a single row with a
-- NULL chunk_id when this call found the audience complete (the message moves on to
-- 'sending', or 'done' when nothing is left to send); no row when the message is not
-- expanding (cancelled, or completed by another sender) or past its expiry.
CREATE FUNCTION push_message_next_chunk(p_app text, p_msg text, p_owner text, p_chunk integer,
                                        p_chunks integer, p_lease integer)
RETURNS TABLE (chunk_id bigint, device_id text, provider text, token text, topic text)
LANGUAGE plpgsql AS $$
DECLARE
    m push_message;
    v_last text;
    v_prev text;
    v_n integer;
    v_filtered integer;
    v_chunk bigint;
    v_ids bigint[] := '{}';
    v_uptos text[];
    v_sizes integer[];
    v_ks integer[];
    v_devices text[];
    v_providers text[];
    v_tokens text[];
    v_topics text[];
BEGIN
    SELECT * INTO m FROM push_message
     WHERE push_message.app_id = p_app AND push_message.message_id = p_msg FOR UPDATE;
    IF NOT FOUND OR m.state <> 'expanding' THEN
        RETURN;
    END IF;
    IF m.expires_at <= now() THEN
        -- past its expiry: the rest of the audience is not walked; the next claim of the
        -- message (no longer held) expires it
        UPDATE push_message SET lease_until = NULL
         WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
        RETURN;
    END IF;
    -- Who a message addressed to devices reaches: their owners when the walk starts
    -- (push.get authorizes against them, push_rocketchat_message). Bounded by the request's
    -- list; a broadcast or tag audience writes no row per device (see push_rocketchat_message).
    IF m.expand_cursor IS NULL AND m.target ? 'deviceIds' THEN
        INSERT INTO push_message_recipient (app_id, message_id, user_id)
        SELECT DISTINCT p_app, p_msg, d.user_id
          FROM push_device d
         WHERE d.app_id = p_app AND d.user_id IS NOT NULL
           AND d.device_id = ANY (ARRAY(SELECT jsonb_array_elements_text(m.target->'deviceIds')))
        ON CONFLICT DO NOTHING;
    END IF;
    WITH a AS (
        SELECT x.*, ((dense_rank() OVER (ORDER BY x.device_id)) - 1) / p_chunk AS k
          FROM push_audience(p_app, p_msg, coalesce(m.expand_cursor, ''), NULL,
                             p_chunk * greatest(p_chunks, 1)) x),
    f AS (
        INSERT INTO push_delivery (app_id, message_id, device_id, provider, state)
        SELECT p_app, p_msg, a.device_id, a.provider, 'filtered' FROM a WHERE NOT a.allowed
        ON CONFLICT DO NOTHING
        RETURNING 1)
    -- (one pass over the deliveries, in the audience's order; one over the chunks)
    SELECT (SELECT max(a.device_id) FROM a), coalesce(array_length(s.devices, 1), 0),
           (SELECT count(*) FROM f), s.ks, s.devices, s.providers, s.tokens, s.topics,
           c.uptos, c.sizes
      INTO v_last, v_n, v_filtered, v_ks, v_devices, v_providers, v_tokens, v_topics,
           v_uptos, v_sizes
      FROM (SELECT array_agg(o.k) AS ks, array_agg(o.device_id) AS devices,
                   array_agg(o.provider) AS providers, array_agg(o.token) AS tokens,
                   array_agg(o.topic) AS topics
              FROM (SELECT * FROM a WHERE a.allowed ORDER BY a.device_id, a.provider) o) s,
           (SELECT array_agg(g.upto ORDER BY g.k) AS uptos, array_agg(g.size ORDER BY g.k) AS sizes
              FROM (SELECT a.k, max(a.device_id) AS upto, count(*) FILTER (WHERE a.allowed)::integer AS size
                      FROM a GROUP BY a.k) g) c;

    IF v_last IS NULL THEN
        UPDATE push_message SET state = 'sending', lease_owner = NULL, lease_until = NULL,
               updated_at = now()
         WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
        PERFORM push_message_settle(p_app, p_msg);
        RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    UPDATE push_message
       SET expand_cursor = v_last, targeted = targeted + v_n + v_filtered,
           filtered = filtered + v_filtered, lease_owner = p_owner,
           lease_until = now() + make_interval(secs => p_lease), updated_at = now()
     WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
    v_prev := coalesce(m.expand_cursor, '');
    FOR i IN 1 .. coalesce(array_length(v_uptos, 1), 0) LOOP
        v_chunk := 0;
        IF v_sizes[i] > 0 THEN
            INSERT INTO push_chunk (app_id, message_id, after_id, upto_id, size, owner, lease_until)
            VALUES (p_app, p_msg, v_prev, v_uptos[i], v_sizes[i], p_owner,
                    now() + make_interval(secs => p_lease))
            RETURNING push_chunk.chunk_id INTO v_chunk;
        END IF;
        v_ids := v_ids || v_chunk;
        v_prev := v_uptos[i];
    END LOOP;
    IF v_n = 0 THEN
        RETURN QUERY SELECT 0::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
    ELSE
        RETURN QUERY SELECT v_ids[u.k + 1], u.d, u.p, u.t, u.tp
                       FROM unnest(v_ks, v_devices, v_providers, v_tokens, v_topics)
                            WITH ORDINALITY AS u(k, d, p, t, tp, i)
                      ORDER BY u.i;
    END IF;
END
$$;

-- Takes over one chunk whose lease ran out (its sender died) or that was given back (its
-- sender stopped before it started it), for p_owner: its range is walked again, and
-- every delivery of it without a push_delivery row is handed out anew. Returns the rows
-- push_message_next_chunk returns, with the message; a single row with chunk_id 0 when
-- the chunk had nothing left to send (it is gone then); no row: no chunk is due.
CREATE FUNCTION push_chunk_reclaim(p_owner text, p_lease integer)
RETURNS TABLE (app_id text, message_id text, chunk_id bigint, device_id text, provider text,
               token text, topic text)
LANGUAGE plpgsql AS $$
DECLARE
    k push_chunk;
    v_state text;
    v_n integer;
    v_filtered integer;
    v_devices text[];
    v_providers text[];
    v_tokens text[];
    v_topics text[];
BEGIN
    SELECT * INTO k FROM push_chunk c WHERE c.lease_until < now()
     ORDER BY c.lease_until LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT m.state INTO v_state FROM push_message m
     WHERE (m.app_id, m.message_id) = (k.app_id, k.message_id) FOR UPDATE;
    IF v_state IN ('cancelled', 'expired') THEN
        -- its sender died after the message ended: what it had not sent never will be
        DELETE FROM push_chunk c WHERE c.chunk_id = k.chunk_id;
        UPDATE push_message m
           SET cancelled = m.cancelled + CASE WHEN v_state = 'cancelled' THEN k.size ELSE 0 END,
               expired = m.expired + CASE WHEN v_state = 'expired' THEN k.size ELSE 0 END
         WHERE (m.app_id, m.message_id) = (k.app_id, k.message_id);
        RETURN QUERY SELECT k.app_id, k.message_id, 0::bigint, NULL::text, NULL::text, NULL::text,
                            NULL::text;
        RETURN;
    END IF;
    WITH a AS (
        SELECT * FROM push_audience(k.app_id, k.message_id, k.after_id, k.upto_id, NULL) x
         WHERE NOT EXISTS (SELECT 1 FROM push_delivery d
                            WHERE (d.app_id, d.message_id, d.device_id, d.provider)
                                = (k.app_id, k.message_id, x.device_id, x.provider))),
    f AS (
        INSERT INTO push_delivery (app_id, message_id, device_id, provider, state)
        SELECT k.app_id, k.message_id, a.device_id, a.provider, 'filtered' FROM a WHERE NOT a.allowed
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT coalesce(array_length(s.devices, 1), 0), (SELECT count(*) FROM f),
           s.devices, s.providers, s.tokens, s.topics
      INTO v_n, v_filtered, v_devices, v_providers, v_tokens, v_topics
      FROM (SELECT array_agg(o.device_id) AS devices, array_agg(o.provider) AS providers,
                   array_agg(o.token) AS tokens, array_agg(o.topic) AS topics
              FROM (SELECT * FROM a WHERE a.allowed ORDER BY a.device_id, a.provider) o) s;
    -- the chunk counted k.size in targeted: it counts what it hands out now (devices
    -- removed meanwhile are no longer in the audience, devices added in its range are)
    UPDATE push_message m
       SET targeted = m.targeted - k.size + v_n + v_filtered, filtered = m.filtered + v_filtered,
           updated_at = now()
     WHERE (m.app_id, m.message_id) = (k.app_id, k.message_id);
    IF v_n = 0 THEN
        DELETE FROM push_chunk c WHERE c.chunk_id = k.chunk_id;
        PERFORM push_message_settle(k.app_id, k.message_id);
        RETURN QUERY SELECT k.app_id, k.message_id, 0::bigint, NULL::text, NULL::text, NULL::text,
                            NULL::text;
        RETURN;
    END IF;
    UPDATE push_chunk c SET size = v_n, owner = p_owner, lease_until = now() + make_interval(secs => p_lease)
     WHERE c.chunk_id = k.chunk_id;
    RETURN QUERY SELECT k.app_id, k.message_id, k.chunk_id, unnest(v_devices), unnest(v_providers),
                        unnest(v_tokens), unnest(v_topics);
END
$$;

-- Writes the outcomes of a chunk and ends it, if p_owner still holds it (otherwise it
-- was taken over, and its new owner sends it again: nothing is written, -1). p_sent is
-- the number of deliveries sent; p_results the others, [{d, c, s, e, p, r, g}] =
-- device, channel, outcome ('failed' | 'invalid' | 'expired' | 'retry' | 'wait'),
-- error, provider id, retry delay in ms ('wait': not tried, so no attempt counts), and
-- for 'invalid' the provider's "gone since" in ms. Each of them becomes a push_delivery
-- row: pending for a retry, in its final state otherwise. Returns the outcomes written.
CREATE FUNCTION push_chunk_finish(p_owner text, p_chunk bigint, p_sent integer, p_results jsonb)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    k push_chunk;
    v_n integer;
BEGIN
    DELETE FROM push_chunk c WHERE c.chunk_id = p_chunk AND c.owner = p_owner RETURNING * INTO k;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    IF p_results = '[]'::jsonb THEN
        -- every delivery of the chunk was sent: the common case, one row to update
        UPDATE push_message m
           SET sent = m.sent + p_sent, targeted = m.targeted - k.size + p_sent, updated_at = now()
         WHERE (m.app_id, m.message_id) = (k.app_id, k.message_id);
        PERFORM push_message_settle(k.app_id, k.message_id);
        RETURN p_sent;
    END IF;
    WITH res AS (
        SELECT * FROM jsonb_to_recordset(p_results)
                      AS x(d text, c text, s text, e text, p text, r bigint, g bigint)),
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

-- A message being expanded may be claimed by a second sender, which then takes chunks
-- of it too (a message nobody expands comes first).
CREATE OR REPLACE FUNCTION push_message_claim(p_owner text, p_lease integer)
RETURNS TABLE (app_id text, message_id text, expired boolean)
LANGUAGE sql AS $$
    WITH c AS (
        SELECT m.app_id, m.message_id, m.lease_until IS NOT NULL AND m.lease_until >= now() AS held
          FROM push_message m
         WHERE m.state IN ('pending', 'expanding') AND m.send_at <= now()
           AND (m.lease_until IS NULL OR m.lease_until < now() OR m.state = 'expanding')
         ORDER BY 3, m.send_at
         LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE push_message m
       SET state = 'expanding', lease_owner = p_owner,
           lease_until = now() + make_interval(secs => p_lease), updated_at = now()
      FROM c WHERE (m.app_id, m.message_id) = (c.app_id, c.message_id)
    RETURNING m.app_id, m.message_id, coalesce(m.expires_at <= now(), false)
$$;

-- As in version 4; chunks nobody holds (their sender died, or gave them back) are
-- cancelled with the pending deliveries, and a message with chunks under way stays
-- 'sending' until they end.
CREATE OR REPLACE FUNCTION push_message_cancel(p_app text, p_msg text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_n integer;
    v_k integer;
BEGIN
    SELECT state INTO v_state FROM push_message
     WHERE app_id = p_app AND message_id = p_msg FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF v_state IN ('done', 'cancelled', 'expired') THEN
        RETURN true;
    END IF;
    WITH c AS (
        UPDATE push_delivery SET state = 'cancelled', lease_owner = NULL, updated_at = now()
         WHERE app_id = p_app AND message_id = p_msg AND state = 'pending'
           AND (lease_owner IS NULL OR next_attempt_at <= now())
        RETURNING 1)
    SELECT count(*) INTO v_n FROM c;
    WITH k AS (
        DELETE FROM push_chunk WHERE chunk_id IN (
            SELECT x.chunk_id FROM push_chunk x
             WHERE x.app_id = p_app AND x.message_id = p_msg AND x.lease_until < now()
               FOR UPDATE SKIP LOCKED)   -- (one a sender is taking over right now is its)
        RETURNING size)
    SELECT coalesce(sum(size), 0) INTO v_k FROM k;
    v_n := v_n + v_k;
    UPDATE push_message SET cancelled = cancelled + v_n, updated_at = now(),
           state = CASE WHEN targeted = sent + failed + invalid + filtered + expired + cancelled + v_n
                        THEN 'cancelled' ELSE 'sending' END,
           finished_at = CASE WHEN targeted = sent + failed + invalid + filtered + expired + cancelled + v_n
                              THEN now() END,
           expand_cursor = NULL, lease_owner = NULL
     WHERE app_id = p_app AND message_id = p_msg;
    -- deliveries still in flight settle the message when their outcomes arrive
    UPDATE push_message SET state = 'cancelled'
     WHERE app_id = p_app AND message_id = p_msg AND state = 'sending' AND expand_cursor IS NULL
       AND NOT EXISTS (SELECT 1 FROM push_delivery d WHERE d.app_id = p_app AND d.message_id = p_msg
                          AND d.state = 'pending')
       AND NOT EXISTS (SELECT 1 FROM push_chunk k WHERE k.app_id = p_app AND k.message_id = p_msg);
    RETURN true;
END
$$;

-- As in version 4; chunks nobody holds expire with the pending deliveries.
CREATE OR REPLACE FUNCTION push_message_expire(p_app text, p_msg text, p_owner text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
    v_k integer;
BEGIN
    WITH e AS (
        UPDATE push_delivery SET state = 'expired', error = 'expired', lease_owner = NULL,
               updated_at = now()
         WHERE app_id = p_app AND message_id = p_msg AND state = 'pending'
           AND (lease_owner IS NULL OR next_attempt_at <= now())
        RETURNING 1)
    SELECT count(*) INTO v_n FROM e;
    WITH k AS (
        DELETE FROM push_chunk WHERE chunk_id IN (
            SELECT x.chunk_id FROM push_chunk x
             WHERE x.app_id = p_app AND x.message_id = p_msg AND x.lease_until < now()
               FOR UPDATE SKIP LOCKED)   -- (one a sender is taking over right now is its)
        RETURNING size)
    SELECT coalesce(sum(size), 0) INTO v_k FROM k;
    UPDATE push_message SET expired = expired + v_n + v_k, state = 'expired', lease_owner = NULL,
           lease_until = NULL, finished_at = now(), updated_at = now()
     WHERE app_id = p_app AND message_id = p_msg AND lease_owner = p_owner;
END
$$;

-- What health shows about delivery: chunks under way count with the outbox.
CREATE OR REPLACE FUNCTION push_sender_health()
RETURNS TABLE (senders integer, queued bigint, oldest_seconds double precision)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*)::integer FROM push_sender WHERE seen_at > now() - interval '30 seconds'),
           (SELECT count(*) FROM push_delivery WHERE state = 'pending')
           + (SELECT coalesce(sum(size), 0) FROM push_chunk)
           + (SELECT count(*) FROM push_message
               WHERE state IN ('pending', 'expanding') AND send_at <= now()),
           (SELECT extract(epoch FROM now() - min(send_at)) FROM push_message
             WHERE state IN ('pending', 'expanding', 'sending') AND send_at <= now())
$$;

-- expansion into rows is gone (push_message_next_chunk walks the audience instead)
DROP FUNCTION push_message_expand(text, text, text, integer, integer, integer);

-- Rocket.Chat's push.get: who may read a message. Addressed by user id: those users;
-- addressed to devices: the owners those devices had when the walk began
-- (push_message_recipient); a broadcast, platform or tag audience (walked in chunks,
-- with no row per device): a user holding a device of the application that was in the
-- audience's kind before the message was accepted (registered to them no later than the
-- message's creation).
CREATE OR REPLACE FUNCTION push_rocketchat_message(p_app text, p_id text, p_user text)
RETURNS TABLE (body text, created_at text, updated_at text, allowed boolean, host text)
LANGUAGE sql STABLE AS $$
    SELECT m.body::text,
           to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           CASE
             WHEN m.target ? 'userIds' THEN m.target->'userIds' ? p_user
             WHEN m.target ? 'deviceIds' THEN EXISTS (
                 SELECT 1 FROM push_message_recipient r
                  WHERE r.app_id = p_app AND r.message_id = m.message_id AND r.user_id = p_user)
             ELSE EXISTS (
                 SELECT 1 FROM push_message_recipient r
                  WHERE r.app_id = p_app AND r.message_id = m.message_id AND r.user_id = p_user)
               OR EXISTS (
                 SELECT 1 FROM push_device d
                  WHERE d.app_id = p_app AND d.user_id = p_user AND d.updated_at <= m.created_at
                    AND (NOT m.target ? 'tagNames' OR EXISTS (
                         SELECT 1 FROM push_subscription s
                          WHERE s.app_id = p_app AND s.device_id = d.device_id
                            AND s.tag_name = ANY (ARRAY(SELECT jsonb_array_elements_text(m.target->'tagNames'))))))
           END,
           a.settings->>'host'
      FROM push_message m JOIN push_application a ON a.app_id = m.app_id
     WHERE m.app_id = p_app AND m.message_id = p_id
$$;


INSERT INTO push_schema_version (version) VALUES (11);
