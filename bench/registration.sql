-- pgbench script for bench/registration: the registration mod_push makes for
-- POST /push_tokens, called directly. Run with -M prepared, as mod_dbd prepares its
-- statements (and only then are :app and :users sent as parameters rather than pasted
-- into the text unquoted), -D app=APPLICATION and -D users=N.
--
-- Every transaction registers a new device for one of N users (bench-user-1 ..
-- bench-user-N, drawn at random as wrk draws its sessions): the device id and the
-- 64-hex token are md5 digests of pgbench random numbers drawn from a range wide enough
-- that repeats are unlikely in a run. The arguments are those of push_device_register
-- (sql/009_registry.sql; the phone number keeps its default) as mod_push passes them for
-- a Layer registration: application, device, platform, token, user, source family,
-- session reference (none: Layer does not bind one), category filter (none), categories,
-- exclude, extra, user agent (none) and the per-user limit, Layer's default of 25. Over
-- HTTP, push_session_register (PUSH_ST_SESSION_REGISTER in mod_push/store/statements.c)
-- looks the session up and makes this same call in one statement.
\set device random(1, 9000000000000000000)
\set token1 random(1, 9000000000000000000)
\set token2 random(1, 9000000000000000000)
\set user random(1, :users)
SELECT push_device_register(:app, 'dev-' || md5(:device::text), 'apns',
       md5(:token1::text) || md5(:token2::text), 'bench-user-' || :user, 'layer', NULL, NULL,
       '{}'::text[], false, '{}'::jsonb, NULL, 25);
