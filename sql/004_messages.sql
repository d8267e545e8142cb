-- mod_push schema, version 4: messages, the outbox and the sender's claims.
--
-- A message is accepted in one statement (push_message_accept: rows + NOTIFY). The
-- sender then claims due messages, expands their audience into push_delivery in
-- chunks (the cursor is committed with each chunk, so a dead sender's work resumes
-- where it stopped), claims due deliveries with FOR UPDATE SKIP LOCKED and writes the
-- outcomes back in batches. A claim is a lease: claiming moves next_attempt_at to the
-- end of the lease, so a row whose sender died becomes due again by itself, and the
-- due index never has to skip over rows that are in flight.

ALTER TABLE push_message
    ADD COLUMN notification_type integer NOT NULL DEFAULT 1,
    ADD COLUMN cancelled integer NOT NULL DEFAULT 0,
    ADD COLUMN lease_owner text,
    ADD COLUMN finished_at timestamptz;

-- Credential problems (APNs 403, FCM 401) pause an application's sends for that
-- provider until its settings change.
ALTER TABLE push_credential
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN paused_reason text;

CREATE FUNCTION push_credential_unpause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.config, NEW.secret) IS DISTINCT FROM (OLD.config, OLD.secret) THEN
        NEW.paused_at := NULL;
        NEW.paused_reason := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER push_credential_unpause BEFORE UPDATE ON push_credential
    FOR EACH ROW EXECUTE FUNCTION push_credential_unpause();

-- Senders alive: each writes its row every few seconds; health reads it.
CREATE TABLE push_sender (
    owner      text PRIMARY KEY,
    host       text NOT NULL,
    pid        integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);

-- Accepts messages: p_list is an array of objects {id, body, target, category,
-- priority, collapseKey, sendAt, expiresAt, type}. One statement, one transaction; the
-- NOTIFY reaches the senders when it commits.
CREATE FUNCTION push_message_accept(p_app text, p_list jsonb) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    INSERT INTO push_message (app_id, message_id, body, target, category, priority, collapse_key,
                              send_at, expires_at, notification_type)
    SELECT p_app, m->>'id', m->'body', coalesce(m->'target', '{}'), m->>'category', m->>'priority',
           m->>'collapseKey', coalesce((m->>'sendAt')::timestamptz, now()),
           (m->>'expiresAt')::timestamptz, coalesce((m->>'type')::integer, 1)
      FROM jsonb_array_elements(p_list) WITH ORDINALITY AS l(m, n)
     ORDER BY n
    RETURNING message_id;
    PERFORM pg_notify('push_sender', p_app);
END
$$;

-- The summary a message's GET answers.
CREATE FUNCTION push_message_summary(p_app text, p_msg text)
RETURNS TABLE (body text, target text, state text, category text, send_at text, expires_at text,
               created_at text, targeted integer, sent integer, failed integer, invalid integer,
               filtered integer, expired integer, cancelled integer, pending integer, paused text)
LANGUAGE sql STABLE AS $$
    SELECT m.body::text, m.target::text, m.state, m.category,
           to_char(m.send_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(m.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           m.targeted, m.sent, m.failed, m.invalid, m.filtered, m.expired, m.cancelled,
           m.targeted - m.sent - m.failed - m.invalid - m.filtered - m.expired - m.cancelled,
           (SELECT string_agg(c.provider || ': ' || c.paused_reason, '; ' ORDER BY c.provider)
              FROM push_credential c WHERE c.app_id = m.app_id AND c.paused_at IS NOT NULL)
      FROM push_message m WHERE m.app_id = p_app AND m.message_id = p_msg
$$;

-- A message reached its end when nothing of it is pending any more.
CREATE FUNCTION push_message_settle(p_app text, p_msg text) RETURNS void LANGUAGE sql AS $$
    UPDATE push_message m SET state = 'done', finished_at = now(), updated_at = now()
     WHERE m.app_id = p_app AND m.message_id = p_msg AND m.state = 'sending'
       AND m.targeted = m.sent + m.failed + m.invalid + m.filtered + m.expired + m.cancelled
$$;

-- Cancels what is not yet sent: the audience not yet expanded and the deliveries not in
-- flight (a delivery a sender holds right now finishes and counts as what it became).
CREATE FUNCTION push_message_cancel(p_app text, p_msg text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_n integer;
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
                          AND d.state = 'pending');
    RETURN true;
END
$$;

-- Claims one message that is due for audience expansion (or is already past its
-- expiry), for p_lease seconds.
CREATE FUNCTION push_message_claim(p_owner text, p_lease integer)
RETURNS TABLE (app_id text, message_id text, expired boolean)
LANGUAGE sql AS $$
    WITH c AS (
        SELECT m.app_id, m.message_id FROM push_message m
         WHERE m.state IN ('pending', 'expanding') AND m.send_at <= now()
           AND (m.lease_until IS NULL OR m.lease_until < now())
         ORDER BY m.send_at
         LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE push_message m
       SET state = 'expanding', lease_owner = p_owner,
           lease_until = now() + make_interval(secs => p_lease), updated_at = now()
      FROM c WHERE (m.app_id, m.message_id) = (c.app_id, c.message_id)
    RETURNING m.app_id, m.message_id, coalesce(m.expires_at <= now(), false)
$$;

-- Expands the next chunk of a claimed message's audience into deliveries, and claims up
-- to p_claim of them for p_owner at once (a lease of p_lease seconds, attempt 1): the
-- sender that expands hands those to its workers without a second round trip, and leaves
-- the rest due in the outbox for any sender's claim (so that several share a broadcast).
-- Returns one row
-- per claimed delivery (with the device's token and Rocket.Chat appName), or a single
-- row with a NULL device_id when the chunk claimed nothing; seen is the number of
-- devices the chunk looked at. No row at all: the audience is complete (and the message
-- moved on to 'sending', or 'done' when nothing is left to send). Devices whose category
-- filter rejects the message become 'filtered' deliveries; devices registered by a
-- session that has ended, disabled devices and dead tokens are not in the audience.
CREATE FUNCTION push_message_expand(p_app text, p_msg text, p_owner text, p_chunk integer,
                                    p_lease integer, p_claim integer)
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
     WHERE app_id = p_app AND message_id = p_msg AND lease_owner = p_owner AND state = 'expanding'
       FOR UPDATE;
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

    WITH pick AS (
        SELECT d.device_id, d.platform, d.token, d.extra->>'appName' AS topic,
               row_number() OVER (ORDER BY d.device_id) AS rn,
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
           AND (m.notification_type <> 2 OR d.phone_number IS NOT NULL)
         ORDER BY d.device_id
         LIMIT p_chunk),
    ins AS (
        INSERT INTO push_delivery (app_id, message_id, device_id, provider, state, attempts,
                                   lease_owner, next_attempt_at, lease_until)
        SELECT p_app, p_msg, pick.device_id,
               CASE WHEN m.notification_type = 2 THEN 'sms' ELSE pick.platform END,
               CASE WHEN pick.allowed THEN 'pending' ELSE 'filtered' END,
               CASE WHEN pick.allowed AND pick.rn <= p_claim THEN 1 ELSE 0 END,
               CASE WHEN pick.allowed AND pick.rn <= p_claim THEN p_owner END,
               CASE WHEN pick.allowed AND pick.rn <= p_claim
                    THEN now() + make_interval(secs => p_lease) ELSE now() END,
               CASE WHEN pick.allowed AND pick.rn <= p_claim
                    THEN now() + make_interval(secs => p_lease) END
          FROM pick
        ON CONFLICT DO NOTHING
        RETURNING push_delivery.device_id AS id, push_delivery.provider AS prov,
                  CASE WHEN lease_owner IS NULL AND state = 'pending' THEN 'due' ELSE state END AS state)
    SELECT (SELECT count(*) FROM pick), (SELECT max(pick.device_id) FROM pick),
           (SELECT count(*) FROM ins), (SELECT count(*) FROM ins WHERE ins.state = 'filtered'),
           ARRAY(SELECT i.id FROM ins i WHERE i.state = 'pending' ORDER BY i.id),
           ARRAY(SELECT i.prov FROM ins i WHERE i.state = 'pending' ORDER BY i.id),
           ARRAY(SELECT k.token FROM ins i JOIN pick k ON k.device_id = i.id
                  WHERE i.state = 'pending' ORDER BY i.id),
           ARRAY(SELECT k.topic FROM ins i JOIN pick k ON k.device_id = i.id
                  WHERE i.state = 'pending' ORDER BY i.id)
      INTO v_seen, v_last, v_added, v_filtered, v_devices, v_providers, v_tokens, v_topics;

    IF v_seen > 0 THEN
        UPDATE push_message
           SET expand_cursor = v_last, targeted = targeted + v_added, filtered = filtered + v_filtered,
               lease_until = now() + make_interval(secs => p_lease), updated_at = now()
         WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
        IF coalesce(array_length(v_devices, 1), 0) = 0 THEN
            RETURN QUERY SELECT v_seen, NULL::text, NULL::text, NULL::text, NULL::text;
        ELSE
            RETURN QUERY SELECT v_seen, unnest(v_devices), unnest(v_providers), unnest(v_tokens),
                                unnest(v_topics);
        END IF;
        RETURN;
    END IF;
    UPDATE push_message SET state = 'sending', lease_owner = NULL, lease_until = NULL,
           updated_at = now()
     WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
    PERFORM push_message_settle(p_app, p_msg);
END
$$;

-- A message past its expiry before it was expanded: nothing of it is sent.
CREATE FUNCTION push_message_expire(p_app text, p_msg text, p_owner text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    WITH e AS (
        UPDATE push_delivery SET state = 'expired', error = 'expired', lease_owner = NULL,
               updated_at = now()
         WHERE app_id = p_app AND message_id = p_msg AND state = 'pending'
           AND (lease_owner IS NULL OR next_attempt_at <= now())
        RETURNING 1)
    SELECT count(*) INTO v_n FROM e;
    UPDATE push_message SET expired = expired + v_n, state = 'expired', lease_owner = NULL,
           lease_until = NULL, finished_at = now(), updated_at = now()
     WHERE app_id = p_app AND message_id = p_msg AND lease_owner = p_owner;
END
$$;

-- Claims up to p_n due deliveries for p_lease seconds, with what sending needs: the
-- device's token (NULL when the device is gone or its token is dead), the attempt
-- number this is, and the APNs topic a Rocket.Chat registration named (its appName).
CREATE FUNCTION push_delivery_claim(p_owner text, p_n integer, p_lease integer)
RETURNS TABLE (app_id text, message_id text, device_id text, provider text, attempts integer,
               token text, phone text, topic text)
LANGUAGE plpgsql AS $$
BEGIN
    -- EXECUTE: planned for this p_n each time. A plan made for an unknown LIMIT (what a
    -- SQL function or a cached plan gets) expects a tenth of the table and hash-joins
    -- the whole outbox: seconds per claim on a million-device broadcast.
    RETURN QUERY EXECUTE $q$
    WITH c AS (
        SELECT d.app_id, d.message_id, d.device_id FROM push_delivery d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now()
         ORDER BY d.next_attempt_at
         LIMIT $2 FOR UPDATE SKIP LOCKED)
    UPDATE push_delivery d
       SET lease_owner = $1, attempts = d.attempts + 1,
           next_attempt_at = now() + make_interval(secs => $3),
           lease_until = now() + make_interval(secs => $3), updated_at = now()
      FROM c LEFT JOIN push_device v
        ON v.app_id = c.app_id AND v.device_id = c.device_id AND v.enabled AND v.invalid_since IS NULL
     WHERE (d.app_id, d.message_id, d.device_id) = (c.app_id, c.message_id, c.device_id)
    RETURNING d.app_id, d.message_id, d.device_id, d.provider, d.attempts, v.token, v.phone_number,
              v.extra->>'appName'
    $q$ USING p_owner, p_n, p_lease;
END
$$;

-- Writes a batch of outcomes (sent deliveries leave the outbox; the message counts them).
-- p_results: [{a, m, d, s, e, p, r, g}] = app, message,
-- device, outcome ('sent' | 'failed' | 'invalid' | 'expired' | 'retry'), error, provider
-- id, retry delay in ms, and for 'invalid' the provider's "gone since" in ms (APNs 410:
-- a device registered again after that moment stays live). Only rows this owner still
-- holds are written. Returns the number written.
CREATE FUNCTION push_delivery_finish(p_owner text, p_results jsonb) RETURNS integer
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
           SET state = CASE WHEN res.s = 'retry' THEN 'pending' ELSE res.s END,
               error = res.e, provider_id = coalesce(res.p, d.provider_id),
               next_attempt_at = CASE WHEN res.s = 'retry'
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
                  FROM u WHERE u.s <> 'retry' GROUP BY 1, 2) x
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

-- Message state changes reach webhooks that listen for onNotificationStatusChange.
CREATE FUNCTION push_message_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NEW.state <> 'expanding' THEN
        PERFORM push_event_emit(NEW.app_id, 'onNotificationStatusChange',
            jsonb_build_object('messageId', NEW.message_id, 'msgStatus', NEW.state,
                               'targeted', NEW.targeted, 'sent', NEW.sent, 'failed', NEW.failed,
                               'invalidToken', NEW.invalid, 'filtered', NEW.filtered,
                               'expired', NEW.expired, 'cancelled', NEW.cancelled));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_message_events AFTER UPDATE OF state ON push_message
    FOR EACH ROW EXECUTE FUNCTION push_message_events();

-- Webhook events: claim due ones for p_lease seconds. Only the owner of a claim can
-- finish it: a sender whose lease ran out while a receiver was slow cannot overwrite what
-- the sender that took the event over did.
ALTER TABLE push_event ADD COLUMN lease_owner text;

CREATE FUNCTION push_event_claim(p_owner text, p_n integer, p_lease integer)
RETURNS TABLE (event_id bigint, app_id text, kind text, payload text, attempts integer,
               created_ms bigint)
LANGUAGE sql AS $$
    WITH c AS (
        SELECT e.event_id FROM push_event e
         WHERE e.state = 'pending' AND e.next_attempt_at <= now()
         ORDER BY e.next_attempt_at
         LIMIT p_n FOR UPDATE SKIP LOCKED)
    UPDATE push_event e
       SET attempts = e.attempts + 1, lease_owner = p_owner,
           lease_until = now() + make_interval(secs => p_lease),
           next_attempt_at = now() + make_interval(secs => p_lease)
      FROM c WHERE e.event_id = c.event_id
    RETURNING e.event_id, e.app_id, e.kind, e.payload::text, e.attempts,
              (extract(epoch FROM e.created_at) * 1000)::bigint
$$;

CREATE FUNCTION push_event_finish(p_id bigint, p_owner text, p_state text, p_retry_ms bigint)
RETURNS void
LANGUAGE sql AS $$
    UPDATE push_event
       SET state = CASE WHEN p_state = 'retry' THEN 'pending' ELSE p_state END,
           next_attempt_at = CASE WHEN p_state = 'retry'
                                  THEN now() + p_retry_ms * interval '1 millisecond'
                                  ELSE next_attempt_at END,
           lease_until = NULL, lease_owner = NULL
     WHERE event_id = p_id AND lease_owner = p_owner AND state = 'pending'
$$;

-- What health shows about delivery.
CREATE FUNCTION push_sender_health()
RETURNS TABLE (senders integer, queued bigint, oldest_seconds double precision)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*)::integer FROM push_sender WHERE seen_at > now() - interval '30 seconds'),
           (SELECT count(*) FROM push_delivery WHERE state = 'pending')
           + (SELECT count(*) FROM push_message
               WHERE state IN ('pending', 'expanding') AND send_at <= now()),
           (SELECT extract(epoch FROM now() - min(send_at)) FROM push_message
             WHERE state IN ('pending', 'expanding', 'sending') AND send_at <= now())
$$;

-- Rocket.Chat's push.test: at most one per second per user (-1), none without tokens
-- (0), else the message to every device of the user, accepted as push_message_accept
-- does, and the number of tokens.
CREATE TABLE push_rate (
    key  text PRIMARY KEY,
    at   timestamptz NOT NULL
);

CREATE FUNCTION push_rocketchat_test(p_app text, p_user text, p_id text, p_body jsonb)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    INSERT INTO push_rate AS r (key, at) VALUES ('push.test/' || p_app || '/' || p_user, clock_timestamp())
    ON CONFLICT (key) DO UPDATE SET at = excluded.at WHERE r.at <= excluded.at - interval '1 second';
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    SELECT count(*) INTO v_n FROM push_device d
     WHERE d.app_id = p_app AND d.user_id = p_user AND d.enabled AND d.invalid_since IS NULL
       AND d.platform IN ('apns', 'fcm');
    IF v_n = 0 THEN
        RETURN 0;
    END IF;
    PERFORM push_message_accept(p_app, jsonb_build_array(jsonb_build_object(
        'id', p_id, 'body', p_body, 'target', jsonb_build_object('userIds', jsonb_build_array(p_user)))));
    RETURN v_n;
END
$$;

-- Rocket.Chat's push.get: a message of the application and whether p_user may read it,
-- that is whether it was addressed to them: by user id, or to a device, platform or tag
-- they hold (a broadcast: any device of theirs).
CREATE FUNCTION push_rocketchat_message(p_app text, p_id text, p_user text)
RETURNS TABLE (body text, created_at text, updated_at text, allowed boolean, host text)
LANGUAGE sql STABLE AS $$
    SELECT m.body::text,
           to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           CASE WHEN m.target ? 'userIds' THEN m.target->'userIds' ? p_user
                ELSE EXISTS (
                    SELECT 1 FROM push_device d
                     WHERE d.app_id = p_app AND d.user_id = p_user
                       AND (NOT m.target ? 'deviceIds' OR m.target->'deviceIds' ? d.device_id)
                       AND (NOT m.target ? 'platforms'
                            OR m.target->'platforms' ? push_platform_code(d.platform))
                       AND (NOT m.target ? 'tagNames' OR EXISTS (
                                SELECT 1 FROM push_subscription s
                                 WHERE s.app_id = p_app AND s.device_id = d.device_id
                                   AND m.target->'tagNames' ? s.tag_name)))
           END,
           a.settings->>'host'
      FROM push_message m JOIN push_application a ON a.app_id = m.app_id
     WHERE m.app_id = p_app AND m.message_id = p_id
$$;

INSERT INTO push_schema_version (version) VALUES (4);
