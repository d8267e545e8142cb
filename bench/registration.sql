-- pgbench script for bench/registration: the statement mod_push runs for
-- POST /push_tokens, called directly. Run with -M prepared, as mod_dbd prepares its
-- statements (and only then is :app sent as a parameter rather than pasted into the
-- text unquoted), and -D app=APPLICATION.
--
-- Every transaction registers a new device: the device id and the 64-hex token are
-- md5 digests of pgbench random numbers drawn from a range wide enough that repeats
-- are unlikely in a run (a repeated device id would update instead of insert).
-- The thirteen arguments are those of push_device_register in sql/001_init.sql and
-- of mod_push's own call (PUSH_ST_DEVICE_REGISTER in mod_push/store/statements.c):
-- application, device, platform, token, user, source family, session (none),
-- category filter (none), categories, exclude, extra, user agent (none) and the
-- per-user limit (0 = none, as PushUserDeviceLimit 0 gives the HTTP side).
\set device random(1, 9000000000000000000)
\set token1 random(1, 9000000000000000000)
\set token2 random(1, 9000000000000000000)
SELECT push_device_register(:app, 'dev-' || md5(:device::text), 'apns',
       md5(:token1::text) || md5(:token2::text), 'pgbench-user', 'layer', NULL, NULL,
       '{}'::text[], false, '{}'::jsonb, NULL, 0);
