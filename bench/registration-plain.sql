-- pgbench script for bench/registration: the plain-row baseline. One statement per
-- transaction upserting a device row into a plain table (bench_plain_device: a primary
-- key and no other index, trigger or foreign key), with what a registration stores:
-- application, a new device id, a 64-hex token and one of N users. Run with -M prepared,
-- -D app=APPLICATION and -D users=N. This is what the database does for the least a
-- registration could be; every dialect is measured against it.
\set device random(1, 9000000000000000000)
\set token1 random(1, 9000000000000000000)
\set token2 random(1, 9000000000000000000)
\set user random(1, :users)
INSERT INTO bench_plain_device AS d (app_id, device_id, token, user_id)
VALUES (:app, 'dev-' || md5(:device::text), md5(:token1::text) || md5(:token2::text),
        'bench-user-' || :user)
ON CONFLICT (app_id, device_id) DO UPDATE
   SET token = EXCLUDED.token, user_id = EXCLUDED.user_id, updated_at = now();
