-- pgbench script for bench/registration: the least SQL a Layer registration could run,
-- a bound rather than a design. One statement per transaction: the session lookup (as
-- push_session_register makes it), then either the rewrite of the user's least recently
-- used device beyond Layer's 25 into the new device (as push_device_put evicts) or, for
-- a user below the limit, the insert of the new device, into push_device with its
-- indexes. It leaves out everything that makes a registration safe and correct under
-- concurrency and for other users: no advisory locks (two registrations of one user may
-- leave it over the limit), no check of a device or token another user holds, no
-- session binding, events or PL/pgSQL. The user is read from the session as a scalar
-- subquery: joined to it, the generic plan that pgbench's prepared statement settles on
-- after five calls scans the seeded table for every registration (700 a second, not
-- 5,700). Run with -M prepared, -D app=APPLICATION and -D users=N; user n's session
-- token is 'pgbench-session-n' (see registration-rc.sql).
\set device random(1, 9000000000000000000)
\set token1 random(1, 9000000000000000000)
\set token2 random(1, 9000000000000000000)
\set user random(1, :users)
WITH s AS (SELECT user_id FROM push_session
            WHERE token_hash = encode(sha256(('pgbench-session-' || :user)::bytea), 'hex')
              AND app_id = :app AND (expires_at IS NULL OR expires_at > now())),
lru AS (SELECT d.device_id FROM push_device d
         WHERE d.app_id = :app AND d.user_id = (SELECT user_id FROM s)
         ORDER BY d.last_used_at DESC OFFSET 24 LIMIT 1),
rewritten AS (UPDATE push_device d
                 SET device_id = 'dev-' || md5(:device::text),
                     token = md5(:token1::text) || md5(:token2::text),
                     last_used_at = clock_timestamp(), created_at = now(), updated_at = now()
                FROM lru WHERE d.app_id = :app AND d.device_id = lru.device_id
              RETURNING 1)
INSERT INTO push_device (app_id, device_id, platform, token, user_id, source_family)
SELECT :app, 'dev-' || md5(:device::text), 'apns', md5(:token1::text) || md5(:token2::text),
       s.user_id, 'layer'
  FROM s WHERE NOT EXISTS (SELECT 1 FROM rewritten);
