-- mod_push schema, version 24: Rocket.Chat's push.token finds a record by id, else by its
-- token and appName, and updates the one it found.
--
-- Rocket.Chat's server (pushUpdate, behind push.token) looks a record up by the id the
-- call gives and, when there is none, by the same token and appName; it updates the
-- record it found under that record's own id, so the record keeps its id, its createdAt
-- and what the call does not give, and the answer shows that record. Version 12 looked a
-- record up by token only when the call gave no id: an id not stored yet with a token
-- another record holds made push_device_put delete that record and insert a new one
-- under the new id (a new createdAt, and a voipToken registered before lost when the
-- call gave none).
--
-- Now: the record named by id; else the live one with the same platform, token and
-- appName; else a new one under the id given (or a new id). The record found is
-- registered under its own id by push_device_put, which takes the locks and checks the
-- owners as before: another user's live record is still refused (no row, 403). A
-- voipToken the call does not give stays when the record was the caller's on the same
-- platform. The answer also names the voipToken stored, the record as it is.
--
-- The lookups read without push_device_put's locks (taking the found record's lock after
-- the token's would break the lock order of version 9). When the record found changes
-- before push_device_put locks it, push_device_put still registers the token on exactly
-- one live record, checking its owners as it finds them then: a race decides only which
-- id that record carries.

DROP FUNCTION push_rocketchat_register(text, text, text, text, text, text, text, text, text, text, integer);
CREATE FUNCTION push_rocketchat_register(
    p_app text, p_id text, p_new_id text, p_platform text, p_token text, p_app_name text,
    p_user text, p_session text, p_user_agent text, p_voip text, p_limit integer)
RETURNS TABLE (device_id text, created_at text, updated_at text, voip_token text)
LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_voip text;   -- the found record's voipToken, when it was the caller's on this platform
BEGIN
    IF p_id IS NOT NULL THEN
        SELECT d.device_id,
               CASE WHEN d.platform = p_platform AND d.user_id = p_user THEN d.extra->>'voipToken' END
          INTO v_id, v_voip
          FROM push_device d WHERE d.app_id = p_app AND d.device_id = p_id;
    END IF;
    IF v_id IS NULL THEN
        SELECT d.device_id, CASE WHEN d.user_id = p_user THEN d.extra->>'voipToken' END
          INTO v_id, v_voip
          FROM push_device d
         WHERE d.app_id = p_app AND d.platform = p_platform AND d.token = p_token
           AND d.invalid_since IS NULL AND d.extra->>'appName' = p_app_name;
    END IF;
    v_id := coalesce(v_id, p_id, p_new_id);
    IF push_device_put(p_app, v_id, p_platform, p_token, p_user, 'rocketchat', p_session,
                       NULL, '{}', false,
                       jsonb_strip_nulls(jsonb_build_object('appName', p_app_name,
                                                            'voipToken', coalesce(p_voip, v_voip))),
                       p_user_agent, p_limit, NULL, p_session IS NOT NULL) IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT d.device_id,
           to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           d.extra->>'voipToken'
      FROM push_device d WHERE d.app_id = p_app AND d.device_id = v_id;
END
$$;

INSERT INTO push_schema_version (version) VALUES (24);
