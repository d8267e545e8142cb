-- mod_push schema, version 16: the walk of a broadcast without its sorts (issue 15).
--
-- Version 11's push_message_next_chunk numbered the audience's deliveries with a window
-- (a sort), aggregated them twice (two more), grouped them by chunk and returned them
-- through one more sort: 4.0 µs per delivery in all, of which push_audience's read of the
-- device table is 1.1 µs (100,000 devices, 800 chunks, on the 2-core machine). The
-- audience already comes in device-id order; this version reads it into arrays in one
-- pass and cuts them into chunks by position: 2.6 µs per delivery in all. Chunks hold at most p_chunk deliveries (a push and
-- an SMS message, type 3, walks half as many devices per call), and a device's deliveries
-- are never split between two chunks, so a chunk is still the range of device ids
-- (after_id, upto_id] that push_chunk_reclaim walks again. The message's row is locked
-- only for the writes after the walk (a walker holds the message's advisory lock,
-- namespace 1886745348, instead): chunk finishes waited for the whole walk before, 0.51 ms
-- per finish. Same arguments and answers.
CREATE OR REPLACE FUNCTION push_message_next_chunk(p_app text, p_msg text, p_owner text, p_chunk integer,
                                                   p_chunks integer, p_lease integer)
RETURNS TABLE (chunk_id bigint, device_id text, provider text, token text, topic text)
LANGUAGE plpgsql AS $$
DECLARE
    m push_message;
    v_step integer := greatest(p_chunk, 1);
    v_devices text[];
    v_providers text[];
    v_tokens text[];
    v_topics text[];
    v_allowed boolean[];
    v_some_filtered boolean;
    v_rows integer;
    v_n integer := 0;
    v_filtered integer := 0;
    v_start integer := 1;
    v_end integer;
    v_size integer;
    v_chunk bigint;
    v_prev text;
    v_state text;
    v_cursor text;
BEGIN
    -- One walker per message (two senders may share it), by the message's advisory lock;
    -- its row is locked only once the audience has been read, for the writes: the
    -- chunks' finishes, which update the row, do not wait for the walk.
    PERFORM pg_advisory_xact_lock(1886745348, hashtext(p_app || '/' || p_msg));
    SELECT * INTO m FROM push_message
     WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
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
    -- The walk: the audience's deliveries after the cursor, in its order (device id, then
    -- channel), as arrays in one pass; no sort, no window. A push and an SMS message
    -- (type 3) has up to two deliveries per device, so it walks half as many devices.
    SELECT array_agg(x.device_id), array_agg(x.provider), array_agg(x.token),
           array_agg(x.topic), array_agg(x.allowed)
      INTO v_devices, v_providers, v_tokens, v_topics, v_allowed
      FROM push_audience(p_app, p_msg, coalesce(m.expand_cursor, ''), NULL,
                         CASE WHEN m.notification_type = 3 THEN greatest(v_step * greatest(p_chunks, 1) / 2, 1)
                              ELSE v_step * greatest(p_chunks, 1) END) x;
    -- The row now. A cancel or an expiry may have ended the walk meanwhile (another walker
    -- cannot have moved the cursor): then nothing is written.
    SELECT push_message.state, push_message.expand_cursor INTO v_state, v_cursor
      FROM push_message
     WHERE push_message.app_id = p_app AND push_message.message_id = p_msg FOR UPDATE;
    IF NOT FOUND OR v_state <> 'expanding' OR v_cursor IS DISTINCT FROM m.expand_cursor THEN
        RETURN;
    END IF;
    -- Who a message addressed to devices reaches: their owners when the walk starts
    -- (push.get authorizes against them, push_rocketchat_message).
    IF m.expand_cursor IS NULL AND m.target ? 'deviceIds' THEN
        INSERT INTO push_message_recipient (app_id, message_id, user_id)
        SELECT DISTINCT p_app, p_msg, d.user_id
          FROM push_device d
         WHERE d.app_id = p_app AND d.user_id IS NOT NULL
           AND d.device_id = ANY (ARRAY(SELECT jsonb_array_elements_text(m.target->'deviceIds')))
        ON CONFLICT DO NOTHING;
    END IF;
    v_rows := coalesce(cardinality(v_devices), 0);
    IF v_rows = 0 THEN
        UPDATE push_message SET state = 'sending', lease_owner = NULL, lease_until = NULL,
               updated_at = now()
         WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
        PERFORM push_message_settle(p_app, p_msg);
        RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    v_some_filtered := false = ANY (v_allowed);
    IF v_some_filtered THEN
        INSERT INTO push_delivery (app_id, message_id, device_id, provider, state)
        SELECT p_app, p_msg, u.d, u.p, 'filtered'
          FROM unnest(v_devices, v_providers, v_allowed) AS u(d, p, a)
         WHERE NOT u.a
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_filtered = ROW_COUNT;
    END IF;
    -- Chunks of at most p_chunk deliveries, a device's deliveries never split between two,
    -- each leased and answered with its rows.
    v_prev := coalesce(m.expand_cursor, '');
    WHILE v_start <= v_rows LOOP
        v_end := least(v_start + v_step - 1, v_rows);
        IF v_end < v_rows AND v_devices[v_end + 1] = v_devices[v_end] THEN
            -- (rows of one device are adjacent, at most two)
            v_end := CASE WHEN v_end > v_start THEN v_end - 1 ELSE v_end + 1 END;
        END IF;
        IF v_some_filtered THEN
            SELECT count(*) FILTER (WHERE a) INTO v_size FROM unnest(v_allowed[v_start:v_end]) AS a;
        ELSE
            v_size := v_end - v_start + 1;
        END IF;
        IF v_size > 0 THEN
            INSERT INTO push_chunk (app_id, message_id, after_id, upto_id, size, owner, lease_until)
            VALUES (p_app, p_msg, v_prev, v_devices[v_end], v_size, p_owner,
                    now() + make_interval(secs => p_lease))
            RETURNING push_chunk.chunk_id INTO v_chunk;
            RETURN QUERY
            SELECT v_chunk, u.d, u.p, u.t, u.tp
              FROM unnest(v_devices[v_start:v_end], v_providers[v_start:v_end],
                          v_tokens[v_start:v_end], v_topics[v_start:v_end],
                          v_allowed[v_start:v_end]) AS u(d, p, t, tp, a)
             WHERE u.a;
            v_n := v_n + v_size;
        END IF;
        v_prev := v_devices[v_end];
        v_start := v_end + 1;
    END LOOP;
    UPDATE push_message
       SET expand_cursor = v_devices[v_rows], targeted = targeted + v_n + v_filtered,
           filtered = filtered + v_filtered, lease_owner = p_owner,
           lease_until = now() + make_interval(secs => p_lease), updated_at = now()
     WHERE push_message.app_id = p_app AND push_message.message_id = p_msg;
    IF v_n = 0 THEN
        RETURN QUERY SELECT 0::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
    END IF;
END
$$;

INSERT INTO push_schema_version (version) VALUES (16);
