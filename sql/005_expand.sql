-- mod_push schema, version 5: the audience expansion no longer holds the message row,
-- and the batch of outcomes is planned for each call.
--
-- Version 4 locked the message (SELECT ... FOR UPDATE) for the whole of each chunk, and
-- every batch of outcomes, which counts on the same row, waited for the chunk. The
-- chunk now reads the message without a lock and writes its cursor and counts at the
-- end, on the condition that the lease is still this sender's and the cursor has not
-- moved; otherwise (the lease ran out and another sender took the message, or it was
-- cancelled) the chunk is undone. The row is locked only from that update to the
-- commit.

-- Expands the next chunk of a claimed message's audience into deliveries, and claims up
-- to p_claim of them for p_owner at once (a lease of p_lease seconds, attempt 1): the
-- sender that expands hands those to its workers without a second round trip, and leaves
-- the rest due in the outbox for any sender's claim (so that several share a broadcast).
-- Returns one row per claimed delivery (with the device's token and Rocket.Chat
-- appName), or a single row with a NULL device_id when the chunk claimed nothing; seen
-- is the number of
-- devices the chunk looked at. No row at all: the audience is complete (and the message
-- moved on to 'sending', or 'done' when nothing is left to send). Devices whose category
-- filter rejects the message become 'filtered' deliveries; devices registered by a
-- session that has ended, disabled devices and dead tokens are not in the audience.
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

-- The batch of outcomes is planned for each call. A plan PL/pgSQL caches after a few
-- calls is made for the outbox as it was then; made while a broadcast starts, it hashes
-- or scans push_delivery instead of looking each key up, and each call gets slower as
-- the broadcast fills the table (15 ms per batch of 250 by the end of a million).
ALTER FUNCTION push_delivery_finish(text, jsonb) SET plan_cache_mode = force_custom_plan;

INSERT INTO push_schema_version (version) VALUES (5);
