-- mod_push schema, version 6: webhook events are delivered per webhook.
--
-- Version 4 claimed a whole event and POSTed it to every webhook of the application that
-- listens for its type, one after the other; when one webhook failed, the retry sent the
-- event to all of them again. Each (event, webhook) pair is now a row of its own in
-- push_event_hook, written when the event is: it is claimed, retried, backed off and given
-- up alone, so a failing receiver is sent the event again and the others are not. The
-- claim takes due rows across applications in turn (at most so many per application), so
-- that one application's backlog or hanging receivers cannot hold up another's.
-- push_event keeps the event and its summary: 'pending' while any of its webhooks is,
-- then 'done', or 'failed' when a webhook gave up (failure_reason says which and why);
-- attempts is the most any of its webhooks took.

CREATE TABLE push_event_hook (
    app_id          text NOT NULL,
    event_id        bigint NOT NULL REFERENCES push_event ON DELETE CASCADE,
    hook_name       text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_until     timestamptz,
    last_error      text,
    PRIMARY KEY (app_id, event_id, hook_name),
    FOREIGN KEY (app_id, hook_name) REFERENCES push_webhook (app_id, name) ON DELETE CASCADE
);
-- the claim walks the applications with pending rows, then the due rows of each
CREATE INDEX push_event_hook_due ON push_event_hook (app_id, next_attempt_at) WHERE state = 'pending';

ALTER TABLE push_event ADD COLUMN failure_reason text;

-- An event is settled when none of its webhooks is pending any more: failed when one gave
-- up, else done. The event row's lock orders the webhooks of one event that finish at
-- the same time, so that the last of them sees the others' rows gone.
CREATE FUNCTION push_event_settle(p_app text, p_event bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM push_event e WHERE e.event_id = p_event AND e.state = 'pending' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE push_event e
       SET state = CASE WHEN EXISTS (SELECT 1 FROM push_event_hook h
                                      WHERE h.app_id = p_app AND h.event_id = p_event AND h.state = 'failed')
                        THEN 'failed' ELSE 'done' END,
           lease_until = NULL, lease_owner = NULL
     WHERE e.event_id = p_event
       AND NOT EXISTS (SELECT 1 FROM push_event_hook h
                        WHERE h.app_id = p_app AND h.event_id = p_event AND h.state = 'pending');
END
$$;

-- A new event gets a row for each webhook that listens for its type (none listening any
-- more: it is done at once).
CREATE FUNCTION push_event_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_event_hook (app_id, event_id, hook_name)
    SELECT NEW.app_id, NEW.event_id, w.name FROM push_webhook w
     WHERE w.app_id = NEW.app_id AND NEW.kind = ANY (w.events);
    IF NOT FOUND THEN
        UPDATE push_event SET state = 'done' WHERE event_id = NEW.event_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_event_fan_out AFTER INSERT ON push_event
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION push_event_fan_out();

-- Rows that go (sent, or their webhook was deleted) may settle their events.
CREATE FUNCTION push_event_hook_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM push_event_settle(g.app_id, g.event_id)
       FROM (SELECT DISTINCT o.app_id, o.event_id FROM gone o WHERE o.state = 'pending') g;
    RETURN NULL;
END
$$;
CREATE TRIGGER push_event_hook_gone AFTER DELETE ON push_event_hook
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION push_event_hook_gone();

-- Events still pending from version 5 go on per webhook, where they were.
INSERT INTO push_event_hook (app_id, event_id, hook_name, attempts, next_attempt_at)
SELECT e.app_id, e.event_id, w.name, e.attempts, least(e.next_attempt_at, coalesce(e.lease_until, e.next_attempt_at))
  FROM push_event e JOIN push_webhook w ON w.app_id = e.app_id AND e.kind = ANY (w.events)
 WHERE e.state = 'pending';
UPDATE push_event e SET state = 'done', lease_until = NULL, lease_owner = NULL
 WHERE e.state = 'pending'
   AND NOT EXISTS (SELECT 1 FROM push_event_hook h WHERE h.app_id = e.app_id AND h.event_id = e.event_id);
UPDATE push_event SET lease_until = NULL, lease_owner = NULL WHERE state = 'pending';

-- Claims up to p_n due rows for p_owner for p_lease seconds, in turns across the
-- applications: each application's oldest due row first, then each one's second, and so
-- on, and no more for an application than p_per_app less what this sender already has
-- under way for it (p_busy: application ids, p_busy_n: how many each). Returns what a POST
-- needs: the event, the webhook's URL and its sealed secret.
CREATE FUNCTION push_event_hook_claim(p_owner text, p_n integer, p_per_app integer, p_lease integer,
                                      p_busy text[], p_busy_n integer[])
RETURNS TABLE (event_id bigint, app_id text, hook_name text, kind text, payload text, attempts integer,
               created_ms bigint, url text, secret text)
LANGUAGE sql AS $$
    WITH RECURSIVE apps (app_id) AS (
        (SELECT h.app_id FROM push_event_hook h WHERE h.state = 'pending' ORDER BY h.app_id LIMIT 1)
        UNION ALL
        SELECT (SELECT h.app_id FROM push_event_hook h
                 WHERE h.state = 'pending' AND h.app_id > a.app_id ORDER BY h.app_id LIMIT 1)
          FROM apps a WHERE a.app_id IS NOT NULL),
    room AS (
        SELECT a.app_id, p_per_app - coalesce(b.n, 0) AS n
          FROM apps a LEFT JOIN unnest(p_busy, p_busy_n) AS b (app_id, n) ON b.app_id = a.app_id
         WHERE a.app_id IS NOT NULL AND p_per_app > coalesce(b.n, 0)),
    due AS (
        SELECT d.app_id, d.event_id, d.hook_name, d.next_attempt_at,
               row_number() OVER (PARTITION BY d.app_id ORDER BY d.next_attempt_at, d.event_id) AS turn
          FROM room r CROSS JOIN LATERAL (
               SELECT h.app_id, h.event_id, h.hook_name, h.next_attempt_at FROM push_event_hook h
                WHERE h.app_id = r.app_id AND h.state = 'pending' AND h.next_attempt_at <= now()
                ORDER BY h.next_attempt_at LIMIT r.n FOR UPDATE SKIP LOCKED) d),
    pick AS (
        SELECT * FROM due ORDER BY turn, next_attempt_at LIMIT p_n)
    UPDATE push_event_hook h
       SET attempts = h.attempts + 1, lease_owner = p_owner,
           lease_until = now() + make_interval(secs => p_lease),
           next_attempt_at = now() + make_interval(secs => p_lease)
      FROM pick, push_event e, push_webhook w
     WHERE h.app_id = pick.app_id AND h.event_id = pick.event_id AND h.hook_name = pick.hook_name
       AND e.event_id = h.event_id AND w.app_id = h.app_id AND w.name = h.hook_name
    RETURNING h.event_id, h.app_id, h.hook_name, e.kind, e.payload::text, h.attempts,
              (extract(epoch FROM e.created_at) * 1000)::bigint, w.url, w.secret::text
$$;

-- The outcome of one claimed row, written only by the owner of its claim: 'done' (the
-- row goes), 'retry' (due again after p_retry_ms) or 'failed' (kept, with p_error, which
-- becomes the event's failure_reason). Settles the event when it was the last.
CREATE FUNCTION push_event_hook_finish(p_app text, p_event bigint, p_hook text, p_owner text,
                                       p_state text, p_retry_ms bigint, p_error text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_attempts integer;
BEGIN
    IF p_state = 'done' THEN
        DELETE FROM push_event_hook h
         WHERE h.app_id = p_app AND h.event_id = p_event AND h.hook_name = p_hook
           AND h.lease_owner = p_owner AND h.state = 'pending'
        RETURNING h.attempts INTO v_attempts;
    ELSE
        UPDATE push_event_hook h
           SET state = CASE WHEN p_state = 'retry' THEN 'pending' ELSE 'failed' END,
               next_attempt_at = CASE WHEN p_state = 'retry'
                                      THEN now() + p_retry_ms * interval '1 millisecond'
                                      ELSE h.next_attempt_at END,
               lease_owner = NULL, lease_until = NULL, last_error = p_error
         WHERE h.app_id = p_app AND h.event_id = p_event AND h.hook_name = p_hook
           AND h.lease_owner = p_owner AND h.state = 'pending'
        RETURNING h.attempts INTO v_attempts;
    END IF;
    IF NOT FOUND THEN
        RETURN;   -- the lease ran out and another sender has the row
    END IF;
    UPDATE push_event e
       SET attempts = greatest(e.attempts, v_attempts),
           failure_reason = CASE WHEN p_state = 'failed' THEN p_hook || ': ' || p_error ELSE e.failure_reason END
     WHERE e.event_id = p_event;
    PERFORM push_event_settle(p_app, p_event);
END
$$;

-- Creates a webhook unless the name is taken ('exists') or the application has p_max
-- already ('limit'); 'created' comes with the new row. Creations for one application
-- take turns, so that two at once cannot both be the last one allowed.
CREATE FUNCTION push_webhook_add(p_app text, p_name text, p_url text, p_events text, p_secret bytea,
                                 p_max integer)
RETURNS TABLE (name text, url text, events text, signed text, outcome text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('push_webhook_add'), hashtext(p_app));
    IF EXISTS (SELECT 1 FROM push_webhook w WHERE w.app_id = p_app AND w.name = p_name) THEN
        RETURN QUERY SELECT p_name, NULL::text, NULL::text, NULL::text, 'exists'::text;
        RETURN;
    END IF;
    IF (SELECT count(*) FROM push_webhook w WHERE w.app_id = p_app) >= p_max THEN
        RETURN QUERY SELECT p_name, NULL::text, NULL::text, NULL::text, 'limit'::text;
        RETURN;
    END IF;
    RETURN QUERY
    INSERT INTO push_webhook AS w (app_id, name, url, events, secret)
    VALUES (p_app, p_name, p_url, string_to_array(p_events, ','), p_secret)
    ON CONFLICT DO NOTHING
    RETURNING w.name, w.url, array_to_string(w.events, ','), (w.secret IS NOT NULL)::text, 'created'::text;
END
$$;

-- Version 5's whole-event claim would POST to every webhook again.
DROP FUNCTION push_event_claim(text, integer, integer);
DROP FUNCTION push_event_finish(bigint, text, text, bigint);

INSERT INTO push_schema_version (version) VALUES (6);
