-- mod_push schema, version 21: a retry of a walked chunk follows its device's owner.
--
-- Version 20 ends a held retry cancelled when its device was removed, or when it changed
-- owner while the delivery had an outbox row (the cancel marks it). A delivery of a chunk
-- the walk handed out has no row until its chunk finishes: if the device was handed over
-- to another user in between (the row kept, a new owner and token), the retry the chunk
-- left was claimed later with the new owner's token, and the earlier owner's message
-- reached the new owner. Devices now record when they last changed owner
-- (owner_since, NULL: never since they were made), and the chunk's finish cancels such a
-- retry, "the device changed owner". The time is the clock at the change, so a hand-over
-- whose transaction began before the walk still counts as after it once it is written
-- after the walk's start; one still uncommitted while the walk reads is not seen (as
-- version 20's check of a device made at that moment).

ALTER TABLE push_device ADD COLUMN owner_since timestamptz;

CREATE FUNCTION push_device_owner_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner_since := clock_timestamp();
    RETURN NEW;
END
$$;
-- the WHEN runs in the executor: an update that keeps the owner calls no function
CREATE TRIGGER push_device_owner_since BEFORE UPDATE OF user_id ON push_device
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION push_device_owner_since();

-- As in version 20, with a retry of a device that changed owner since the walk cancelled too.
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
               -- why a retry must not be sent: the device the walk read is gone, or its
               -- id names a device made since, or it has had another owner since
               CASE WHEN x.s NOT IN ('retry', 'wait') THEN NULL
                    ELSE (SELECT CASE WHEN v.device_id IS NULL OR v.created_at > k.created_at
                                      THEN 'the device was removed'
                                      WHEN v.owner_since > k.created_at THEN 'the device changed owner' END
                            FROM (SELECT 1) one
                            LEFT JOIN push_device v ON (v.app_id, v.device_id) = (k.app_id, x.d)) END AS stale
          FROM jsonb_to_recordset(p_results)
               AS x(d text, c text, s text, e text, p text, r bigint, g bigint)),
    res AS (
        SELECT g.d, g.c,
               CASE WHEN g.s IN ('retry', 'wait') AND v_state IN ('cancelled', 'expired') THEN v_state
                    WHEN g.stale IS NOT NULL THEN 'cancelled' ELSE g.s END AS s,
               CASE WHEN g.stale IS NOT NULL AND coalesce(v_state, '') NOT IN ('cancelled', 'expired') THEN g.stale
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

INSERT INTO push_schema_version (version) VALUES (21);
