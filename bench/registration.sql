-- pgbench script for bench/registration: the registration mod_push makes for
-- POST /push_tokens, called directly. Run with -M prepared, as mod_dbd prepares its
-- statements (and only then is :app sent as a parameter rather than pasted into the
-- text unquoted), and -D app=APPLICATION.
--
-- Every transaction registers a new device: the device id and the 64-hex token are
-- md5 digests of pgbench random numbers drawn from a range wide enough that repeats
-- are unlikely in a run (a repeated device id would update instead of insert).
-- The thirteen arguments are those of push_device_register (sql/002_mobilefirst.sql;
-- the fourteenth, the phone number, keeps its default) as mod_push passes them for a
-- Layer registration with a built-in session: over HTTP, push_session_register
-- (PUSH_ST_SESSION_REGISTER in mod_push/store/statements.c) looks the session up and
-- makes this same call in one statement. Application, device, platform, token, user,
-- source family, session reference (none: Layer does not bind one), category filter
-- (none), categories, exclude, extra, user agent (none) and the per-user limit
-- (0 = none, as PushUserDeviceLimit 0 gives the HTTP side).
\set device random(1, 9000000000000000000)
\set token1 random(1, 9000000000000000000)
\set token2 random(1, 9000000000000000000)
SELECT push_device_register(:app, 'dev-' || md5(:device::text), 'apns',
       md5(:token1::text) || md5(:token2::text), 'pgbench-user', 'layer', NULL, NULL,
       '{}'::text[], false, '{}'::jsonb, NULL, 0);
