-- mod_push schema, version 10: per-application quotas on the outbox, and retention.
--
-- Each application has a row in push_quota: the deliveries it has pending (those in the
-- outbox plus those its accepted, not yet expanded messages will create, reserved at
-- acceptance from an estimate of their audience) and the messages accepted in the current
-- minute. Accepting messages (push_message_accept with limits) reads that row and the
-- deltas not yet folded into it: no count over the outbox per request.
--
-- The outbox changes the count through statement triggers that append a delta row per
-- application and statement (push_quota_delta) instead of updating push_quota: an append
-- takes no lock anyone else waits for, so the senders' claims and outcomes, cancelling
-- and expiry keep the lock order they had. The sender folds the deltas into push_quota
-- every second (push_quota_fold).
--
-- push_retention_sweep removes, in small batches, finished deliveries, messages with no
-- delivery left and settled webhook events older than the retention; the sender runs it
-- periodically (PushRetention).

CREATE TABLE push_quota (
    app_id       text PRIMARY KEY REFERENCES push_application ON DELETE CASCADE,
    pending      bigint NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL DEFAULT 'epoch',
    window_count integer NOT NULL DEFAULT 0
);

CREATE TABLE push_quota_delta (
    app_id text NOT NULL,
    delta  bigint NOT NULL
);
CREATE INDEX push_quota_delta_app ON push_quota_delta (app_id);

-- The audience a message reserves until its expansion has created the deliveries.
ALTER TABLE push_message ADD COLUMN reserved integer NOT NULL DEFAULT 0;

-- What the outbox holds today.
INSERT INTO push_quota (app_id, pending)
SELECT a.app_id, (SELECT count(*) FROM push_delivery d WHERE d.app_id = a.app_id AND d.state = 'pending')
  FROM push_application a;

-- Pending deliveries that come and go, per application and statement.
CREATE FUNCTION push_quota_delivery_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_quota_delta (app_id, delta)
    SELECT n.app_id, count(*) FROM new_rows n WHERE n.state = 'pending' GROUP BY n.app_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_quota_delivery_ins AFTER INSERT ON push_delivery
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION push_quota_delivery_ins();

CREATE FUNCTION push_quota_delivery_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- claims and retries keep rows pending: no delta at all
    INSERT INTO push_quota_delta (app_id, delta)
    SELECT x.app_id, x.delta
      FROM (SELECT c.app_id, sum(c.d) AS delta
              FROM (SELECT n.app_id, 1 AS d FROM new_rows n WHERE n.state = 'pending'
                    UNION ALL
                    SELECT o.app_id, -1 FROM old_rows o WHERE o.state = 'pending') c
             GROUP BY c.app_id) x
     WHERE x.delta <> 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_quota_delivery_upd AFTER UPDATE ON push_delivery
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION push_quota_delivery_upd();

CREATE FUNCTION push_quota_delivery_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_quota_delta (app_id, delta)
    SELECT o.app_id, -count(*) FROM old_rows o WHERE o.state = 'pending' GROUP BY o.app_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_quota_delivery_del AFTER DELETE ON push_delivery
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION push_quota_delivery_del();

-- A message's reservation shrinks by what its expansion targeted, and goes when the
-- expansion is over (or the message was cancelled or expired first).
CREATE FUNCTION push_quota_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state NOT IN ('pending', 'expanding') THEN
        NEW.reserved := 0;
    ELSIF NEW.targeted > OLD.targeted THEN
        NEW.reserved := greatest(OLD.reserved - (NEW.targeted - OLD.targeted), 0);
    END IF;
    IF NEW.reserved < OLD.reserved THEN
        INSERT INTO push_quota_delta (app_id, delta) VALUES (NEW.app_id, NEW.reserved - OLD.reserved);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER push_quota_release BEFORE UPDATE ON push_message
    FOR EACH ROW WHEN (OLD.reserved > 0) EXECUTE FUNCTION push_quota_release();

CREATE FUNCTION push_quota_message_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_quota_delta (app_id, delta)
    SELECT o.app_id, -sum(o.reserved) FROM old_rows o WHERE o.reserved > 0 GROUP BY o.app_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_quota_message_del AFTER DELETE ON push_message
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION push_quota_message_del();

-- Folds up to p_n deltas into push_quota; returns how many. Several senders may fold at
-- once: each takes rows the others have not locked.
CREATE FUNCTION push_quota_fold(p_n integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    WITH d AS (
        DELETE FROM push_quota_delta
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM push_quota_delta LIMIT p_n FOR UPDATE SKIP LOCKED))
        RETURNING app_id, delta),
    s AS (SELECT d.app_id, sum(d.delta) AS delta, count(*) AS n FROM d GROUP BY d.app_id),
    u AS (
        UPDATE push_quota q SET pending = greatest(q.pending + s.delta, 0)
          FROM s WHERE q.app_id = s.app_id
        RETURNING 1)
    SELECT coalesce(sum(s.n), 0) INTO v_n FROM s;
    RETURN v_n;
END
$$;

-- At most p_cap of the deliveries a message to p_target of type p_type would create: the
-- live devices it names or selects (two deliveries each for push and SMS). Counting
-- stops at p_cap, so the cost is bounded by the room the quota has left.
CREATE FUNCTION push_audience_estimate(p_app text, p_target jsonb, p_type integer, p_cap bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint;
BEGIN
    IF p_target ? 'deviceIds' THEN
        v := jsonb_array_length(p_target->'deviceIds');
    ELSIF p_target ? 'userIds' THEN
        SELECT count(*) INTO v FROM (
            SELECT 1 FROM push_device d
             WHERE d.app_id = p_app AND d.enabled AND d.invalid_since IS NULL
               AND d.user_id IN (SELECT jsonb_array_elements_text(p_target->'userIds'))
             LIMIT p_cap) x;
    ELSIF p_target ? 'platforms' THEN
        SELECT count(*) INTO v FROM (
            SELECT 1 FROM push_device d
             WHERE d.app_id = p_app AND d.enabled AND d.invalid_since IS NULL
               AND push_platform_code(d.platform) IN (SELECT jsonb_array_elements_text(p_target->'platforms'))
             LIMIT p_cap) x;
    ELSIF p_target ? 'tagNames' THEN
        SELECT count(*) INTO v FROM (
            SELECT DISTINCT s.device_id FROM push_subscription s
             WHERE s.app_id = p_app AND s.tag_name IN (SELECT jsonb_array_elements_text(p_target->'tagNames'))
             LIMIT p_cap) x;
    ELSE
        SELECT count(*) INTO v FROM (
            SELECT 1 FROM push_device d
             WHERE d.app_id = p_app AND d.enabled AND d.invalid_since IS NULL
             LIMIT p_cap) x;
    END IF;
    RETURN least(v * CASE WHEN p_type = 3 THEN 2 ELSE 1 END, p_cap);
END
$$;

-- Accepts messages as push_message_accept(p_app, p_list) does, within the application's
-- quotas: at most p_max_rate messages per minute (fixed minutes), and at most
-- p_max_pending deliveries pending once these are expanded (a single message is taken
-- when nothing is pending, however large its audience). 0: no limit. Returns the ids, or
-- one row without an id that says which limit refused the request ('rate', 'pending') and
-- in how many seconds to try again.
--
-- The audiences are estimated before the application's quota row is locked, so that its
-- accepts wait on each other only for the check and the insert; under the lock the counts
-- are read again and the decision is taken on them.
CREATE FUNCTION push_message_accept(p_app text, p_list jsonb, p_max_pending bigint, p_max_rate integer)
RETURNS TABLE (id text, refused text, retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
    q push_quota;
    v_n integer := jsonb_array_length(p_list);
    v_window timestamptz := date_trunc('minute', now());
    v_count integer;
    v_pending bigint;
    v_total bigint := 0;
    v_est bigint;
    v_map jsonb := '{}';
    r record;
BEGIN
    SELECT * INTO q FROM push_quota x WHERE x.app_id = p_app;
    IF NOT FOUND THEN
        INSERT INTO push_quota AS x (app_id) VALUES (p_app) ON CONFLICT (app_id) DO NOTHING;
        SELECT * INTO q FROM push_quota x WHERE x.app_id = p_app;
    END IF;
    FOR pass IN 1 .. 2 LOOP
        -- pass 1: a first look, and the estimates; pass 2: the same checks under the lock
        v_count := CASE WHEN q.window_start = v_window THEN q.window_count ELSE 0 END;
        IF p_max_rate > 0 AND v_count + v_n > p_max_rate THEN
            RETURN QUERY SELECT NULL::text, 'rate'::text,
                greatest(1, ceil(extract(epoch FROM v_window + interval '1 minute' - clock_timestamp())))::integer;
            RETURN;
        END IF;
        IF p_max_pending > 0 THEN
            v_pending := q.pending + coalesce((SELECT sum(d.delta) FROM push_quota_delta d WHERE d.app_id = p_app), 0);
            IF pass = 1 THEN
                FOR r IN SELECT coalesce(l.m->'target', '{}') AS t, coalesce((l.m->>'type')::integer, 1) AS ty,
                                count(*) AS k
                           FROM jsonb_array_elements(p_list) AS l(m) GROUP BY 1, 2 LOOP
                    v_est := push_audience_estimate(p_app, r.t, r.ty,
                                                    greatest(p_max_pending - v_pending - v_total, 0) + 1);
                    v_total := v_total + v_est * r.k;
                    v_map := v_map || jsonb_build_object(r.ty || ':' || r.t::text, v_est);
                    EXIT WHEN v_pending + v_total > p_max_pending AND NOT (v_n = 1 AND v_pending <= 0);
                END LOOP;
            END IF;
            IF v_pending + v_total > p_max_pending AND NOT (v_n = 1 AND v_pending <= 0) THEN
                RETURN QUERY SELECT NULL::text, 'pending'::text, 30;
                RETURN;
            END IF;
        END IF;
        IF pass = 1 THEN
            SELECT * INTO q FROM push_quota x WHERE x.app_id = p_app FOR UPDATE;
        END IF;
    END LOOP;
    UPDATE push_quota x SET pending = x.pending + v_total, window_start = v_window,
           window_count = v_count + v_n
     WHERE x.app_id = p_app;
    RETURN QUERY
    INSERT INTO push_message AS pm (app_id, message_id, body, target, category, priority, collapse_key,
                                    send_at, expires_at, notification_type, reserved)
    SELECT p_app, l.m->>'id', l.m->'body', coalesce(l.m->'target', '{}'), l.m->>'category',
           l.m->>'priority', l.m->>'collapseKey', coalesce((l.m->>'sendAt')::timestamptz, now()),
           (l.m->>'expiresAt')::timestamptz, coalesce((l.m->>'type')::integer, 1),
           coalesce((v_map->>(coalesce((l.m->>'type')::integer, 1) || ':' ||
                              coalesce(l.m->'target', '{}')::text))::integer, 0)
      FROM jsonb_array_elements(p_list) WITH ORDINALITY AS l(m, n)
     ORDER BY l.n
    RETURNING pm.message_id, NULL::text, NULL::integer;
    PERFORM pg_notify('push_sender', p_app);
END
$$;

-- The version without limits keeps its contract (and now reserves nothing).
CREATE OR REPLACE FUNCTION push_message_accept(p_app text, p_list jsonb) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT a.id FROM push_message_accept(p_app, p_list, 0, 0) a
$$;

-- Rocket.Chat's push.test within the quotas: n as push_rocketchat_test(4 arguments)
-- returns it, or -2 with retry_after when a quota refuses the message.
CREATE FUNCTION push_rocketchat_test(p_app text, p_user text, p_id text, p_body jsonb,
                                     p_max_pending bigint, p_max_rate integer)
RETURNS TABLE (n integer, retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
    a record;
BEGIN
    INSERT INTO push_rate AS r (key, at) VALUES ('push.test/' || p_app || '/' || p_user, clock_timestamp())
    ON CONFLICT (key) DO UPDATE SET at = excluded.at WHERE r.at <= excluded.at - interval '1 second';
    IF NOT FOUND THEN
        RETURN QUERY SELECT -1, 1;
        RETURN;
    END IF;
    SELECT count(*) INTO v_n FROM push_device d
     WHERE d.app_id = p_app AND d.user_id = p_user AND d.enabled AND d.invalid_since IS NULL
       AND d.platform IN ('apns', 'fcm');
    IF v_n = 0 THEN
        RETURN QUERY SELECT 0, NULL::integer;
        RETURN;
    END IF;
    SELECT * INTO a FROM push_message_accept(p_app, jsonb_build_array(jsonb_build_object(
        'id', p_id, 'body', p_body, 'target', jsonb_build_object('userIds', jsonb_build_array(p_user)))),
        p_max_pending, p_max_rate) LIMIT 1;
    IF a.id IS NULL THEN
        RETURN QUERY SELECT -2, a.retry_after;
        RETURN;
    END IF;
    RETURN QUERY SELECT v_n, NULL::integer;
END
$$;

-- Retention: what is finished and older than p_age seconds goes, at most p_batch rows of
-- each kind per call, rows another sender is sweeping skipped. A message goes once its
-- deliveries have (they finished before it did, so they are swept first). Returns the
-- rows removed; a call that removed a full batch of something leaves more to do.
CREATE INDEX push_delivery_finished ON push_delivery (updated_at) WHERE state <> 'pending';
CREATE INDEX push_message_finished ON push_message ((coalesce(finished_at, updated_at)))
    WHERE state IN ('done', 'cancelled', 'expired');
CREATE INDEX push_event_finished ON push_event (created_at) WHERE state <> 'pending';

CREATE FUNCTION push_retention_sweep(p_age integer, p_batch integer)
RETURNS TABLE (deliveries integer, messages integer, events integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_before timestamptz := now() - make_interval(secs => p_age);
    v_d integer;
    v_m integer;
    v_e integer;
BEGIN
    DELETE FROM push_delivery
     WHERE ctid = ANY (ARRAY(
        SELECT d.ctid FROM push_delivery d
         WHERE d.state <> 'pending' AND d.updated_at < v_before
         LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS v_d = ROW_COUNT;
    DELETE FROM push_message
     WHERE ctid = ANY (ARRAY(
        SELECT m.ctid FROM push_message m
         WHERE m.state IN ('done', 'cancelled', 'expired') AND coalesce(m.finished_at, m.updated_at) < v_before
           AND NOT EXISTS (SELECT 1 FROM push_delivery d
                            WHERE d.app_id = m.app_id AND d.message_id = m.message_id)
         LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS v_m = ROW_COUNT;
    DELETE FROM push_event
     WHERE ctid = ANY (ARRAY(
        SELECT e.ctid FROM push_event e
         WHERE e.state <> 'pending' AND e.created_at < v_before
         LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS v_e = ROW_COUNT;
    -- push.test's per-user clock only matters for a second
    DELETE FROM push_rate
     WHERE ctid = ANY (ARRAY(
        SELECT r.ctid FROM push_rate r WHERE r.at < v_before LIMIT p_batch FOR UPDATE SKIP LOCKED));
    RETURN QUERY SELECT v_d, v_m, v_e;
END
$$;

INSERT INTO push_schema_version (version) VALUES (10);
