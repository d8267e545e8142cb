-- mod_push schema, version 13: a broadcast's counter updates are HOT (issue 15).
--
-- Every chunk of a broadcast updates its message row twice (push_message_next_chunk moves
-- the cursor, push_chunk_finish adds what was sent), and each of those updates set
-- updated_at, which the retention index push_message_finished covered
-- (coalesce(finished_at, updated_at)): none of them could be a heap-only update. Each
-- wrote new entries into all three indexes of push_message, and each primary-key lookup
-- of the message then walked past the dead versions of every earlier update: in
-- bench/delivery at 300,000 devices, 3,108 updates of which 1 was HOT, 0.37 ms per
-- counter update and 0.2 ms per settle check, about 5 us of PostgreSQL's time per
-- delivery.
--
-- Version 13 indexes finished messages by finished_at alone, which a trigger now sets on
-- every move to a final state (some cancellations did not), so that no column a counter
-- update writes is indexed; and leaves half of each new page of push_message free for
-- the new versions of its rows. A chunk where every delivery was sent now also settles
-- its message in the update that counts it, and the status-change trigger runs only when
-- the state changes.

CREATE FUNCTION push_message_finished_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.finished_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER push_message_finished_at BEFORE INSERT OR UPDATE ON push_message
    FOR EACH ROW WHEN (NEW.state IN ('done', 'cancelled', 'expired') AND NEW.finished_at IS NULL)
    EXECUTE FUNCTION push_message_finished_at();

UPDATE push_message SET finished_at = updated_at
 WHERE state IN ('done', 'cancelled', 'expired') AND finished_at IS NULL;

DROP INDEX push_message_finished;
CREATE INDEX push_message_finished ON push_message (finished_at)
    WHERE state IN ('done', 'cancelled', 'expired');

ALTER TABLE push_message SET (fillfactor = 50);

-- As in version 10, finished messages read by finished_at.
CREATE OR REPLACE FUNCTION push_retention_sweep(p_age integer, p_batch integer)
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
         WHERE m.state IN ('done', 'cancelled', 'expired') AND m.finished_at < v_before
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

-- The status-change event's trigger runs only when the state changes (its function
-- checked that already): push_chunk_finish names state in every update now.
DROP TRIGGER push_message_events ON push_message;
CREATE TRIGGER push_message_events AFTER UPDATE OF state ON push_message
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION push_message_events();

-- As in version 11; a chunk where every delivery was sent settles its message in the
-- update that counts it (the state is only read when it was 'sending': the expansion is
-- over, as push_message_settle required).
CREATE OR REPLACE FUNCTION push_chunk_finish(p_owner text, p_chunk bigint, p_sent integer, p_results jsonb)
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

INSERT INTO push_schema_version (version) VALUES (13);
