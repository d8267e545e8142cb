-- pgbench script for bench/registration, Rocket.Chat: the two statements mod_push runs
-- for POST /api/v1/push.token, called directly. Run with -M prepared, as mod_dbd
-- prepares its statements, and -D app=APPLICATION -D users=N. Every transaction is one
-- of N users, bench-user-1 .. bench-user-N, drawn at random; bench/registration gave user
-- n a live built-in session whose token_hash is the hex SHA-256 of 'pgbench-session-n'
-- (computed here in the statements: a microsecond, where mod_push hashes the token in
-- C). pgbench's variables are written :name; in prepared mode each is sent as a text
-- parameter.
--
-- A pgbench transaction here is one registration as mod_push makes it, two statements
-- on the same connection, each committed on its own:
--
--   1. authentication: the session lookup (PUSH_ST_SESSION_USER in
--      mod_push/store/statements.c), which X-User-Id and X-Auth-Token cost every
--      request;
--   2. registration: push_rocketchat_register (sql/009_registry.sql; mod_push's
--      PUSH_ST_RC_REGISTER selects the same three columns) with its eleven arguments as
--      mod_push passes them for a body without "id": application, no id, a new record
--      id (17 characters, as mod_push makes one per request), platform fcm ("type":
--      "gcm"), the token, appName, the session's user, the session (mod_push binds the
--      built-in session that authenticated the request), no user agent (wrk sends
--      no User-Agent), no VoIP token and the per-user limit, Rocket.Chat's default of 25.
--
-- The token is new in every transaction (two md5 digests of pgbench random numbers),
-- so the function finds no record holding it and inserts one under the new id.
\set id random(1, 9000000000000000000)
\set token1 random(1, 9000000000000000000)
\set token2 random(1, 9000000000000000000)
\set user random(1, :users)
SELECT user_id FROM push_session
 WHERE token_hash = encode(sha256(('pgbench-session-' || :user)::bytea), 'hex') AND app_id = :app
   AND (expires_at IS NULL OR expires_at > now());
SELECT * FROM push_rocketchat_register(:app, NULL, substr(md5(:id::text), 1, 17), 'fcm',
       md5(:token1::text) || md5(:token2::text), 'chat.rocket.android', 'bench-user-' || :user,
       encode(sha256(('pgbench-session-' || :user)::bytea), 'hex'), NULL, NULL, 25);
