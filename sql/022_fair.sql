-- mod_push schema, version 22: claims that let no application keep another waiting.
--
-- The sender walks several messages at once and gives each application a lane of its
-- own (mod_push/sender/expand.c, run.c); what it claims says which applications it has
-- enough of already:
--   push_message_claim(owner, lease, skip, busy): a due message of an application not in
--     skip (walked often enough here, or its deliveries queue up), those of applications
--     not in busy (nothing under way here) first, then the oldest; none this sender
--     already walks under its lease.
--   push_delivery_claim(owner, n, lease, skip): due outbox rows of applications not in
--     skip (those a worker holds its share of: their endpoints are slow or it sends a
--     lot), the oldest first.
-- The versions without these arguments stay for a sender of version 21 during an
-- upgrade.

CREATE OR REPLACE FUNCTION push_message_claim(p_owner text, p_lease integer, p_skip text[], p_busy text[])
RETURNS TABLE (app_id text, message_id text, expired boolean)
LANGUAGE sql AS $$
    WITH c AS (
        SELECT m.app_id, m.message_id, m.lease_until IS NOT NULL AND m.lease_until >= now() AS held
          FROM push_message m
         WHERE m.state IN ('pending', 'expanding') AND m.send_at <= now()
           AND (m.lease_until IS NULL OR m.lease_until < now()
                OR (m.state = 'expanding' AND m.lease_owner IS DISTINCT FROM p_owner))
           AND m.app_id <> ALL (coalesce(p_skip, '{}'))
         ORDER BY 3, m.app_id = ANY (coalesce(p_busy, '{}')), m.send_at
         LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE push_message m
       SET state = 'expanding', lease_owner = p_owner,
           lease_until = now() + make_interval(secs => p_lease), updated_at = now()
      FROM c WHERE (m.app_id, m.message_id) = (c.app_id, c.message_id)
    RETURNING m.app_id, m.message_id, coalesce(m.expires_at <= now(), false)
$$;

CREATE OR REPLACE FUNCTION push_delivery_claim(p_owner text, p_n integer, p_lease integer, p_skip text[])
RETURNS TABLE (app_id text, message_id text, device_id text, provider text, attempts integer,
               token text, phone text, topic text)
LANGUAGE plpgsql AS $$
BEGIN
    -- EXECUTE: planned for this p_n each time (see version 4)
    RETURN QUERY EXECUTE $q$
    WITH c AS (
        SELECT d.app_id, d.message_id, d.device_id, d.provider FROM push_delivery d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now()
           AND d.app_id <> ALL ($4)
         ORDER BY d.next_attempt_at
         LIMIT $2 FOR UPDATE SKIP LOCKED)
    UPDATE push_delivery d
       SET lease_owner = $1, attempts = d.attempts + 1,
           next_attempt_at = now() + make_interval(secs => $3),
           lease_until = now() + make_interval(secs => $3), updated_at = now()
      FROM c LEFT JOIN push_device v
        ON v.app_id = c.app_id AND v.device_id = c.device_id AND v.enabled AND v.invalid_since IS NULL
     WHERE (d.app_id, d.message_id, d.device_id, d.provider) = (c.app_id, c.message_id, c.device_id, c.provider)
    RETURNING d.app_id, d.message_id, d.device_id, d.provider, d.attempts,
              push_delivery_address(d.provider, v.platform, v.token, v.phone_number), v.phone_number,
              CASE WHEN d.provider <> 'sms' THEN v.extra->>'appName' END
    $q$ USING p_owner, p_n, p_lease, coalesce(p_skip, '{}');
END
$$;

INSERT INTO push_schema_version (version) VALUES (22);
