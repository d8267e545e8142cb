-- mod_push schema, version 3: Rocket.Chat's push.token.

-- Find the record (by id, else by token, type and appName), register it for the caller,
-- and answer its id and times with milliseconds, as Rocket.Chat shows them.
CREATE FUNCTION push_rocketchat_register(
    p_app text, p_id text, p_new_id text, p_platform text, p_token text, p_app_name text,
    p_user text, p_session text, p_user_agent text)
RETURNS TABLE (device_id text, created_at text, updated_at text)
LANGUAGE plpgsql AS $$
DECLARE
    v_id text := p_id;
BEGIN
    IF v_id IS NULL THEN
        SELECT d.device_id INTO v_id FROM push_device d
         WHERE d.app_id = p_app AND d.platform = p_platform AND d.token = p_token
           AND d.invalid_since IS NULL AND d.extra->>'appName' = p_app_name;
        v_id := coalesce(v_id, p_new_id);
    END IF;
    PERFORM push_device_register(p_app, v_id, p_platform, p_token, p_user, 'rocketchat', p_session,
                                 NULL, '{}', false, jsonb_build_object('appName', p_app_name),
                                 p_user_agent, 0);
    RETURN QUERY
    SELECT d.device_id,
           to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      FROM push_device d WHERE d.app_id = p_app AND d.device_id = v_id;
END
$$;

INSERT INTO push_schema_version (version) VALUES (3);
