-- pgbench script for bench/registration, MobileFirst: the statement mod_push runs for
-- POST /imfpush/v1/apps/APP/devices, called directly. Run with -M prepared, as
-- mod_dbd prepares its statements, -D app=APPLICATION and -D users=N.
--
-- Every transaction registers a new device, built as in registration.sql: the device
-- id and the 64-hex token are md5 digests of pgbench random numbers. The seven
-- arguments are those of push_device_register_mf in sql/002_mobilefirst.sql and of
-- mod_push's own call (PUSH_ST_MF_REGISTER in mod_push/store/statements.c):
-- application, device, platform, token, user (one of N, bench-user-1 .. bench-user-N, as
-- wrk sends userId), phone number (none) and user agent (none: wrk sends no User-Agent). The function registers the device with
-- source family "mobilefirst" and no per-user limit, subscribes a new device to the
-- application's Push.all tag and answers the stored row.
\set device random(1, 9000000000000000000)
\set token1 random(1, 9000000000000000000)
\set token2 random(1, 9000000000000000000)
\set user random(1, :users)
SELECT * FROM push_device_register_mf(:app, 'dev-' || md5(:device::text), 'apns',
       md5(:token1::text) || md5(:token2::text), 'bench-user-' || :user, NULL, NULL);
