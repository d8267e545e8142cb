-- mod_push schema, version 1: the whole data model (docs/data-model.md).
-- Applied by `pushctl migrate` inside one transaction, together with its row in
-- push_schema_version. Every table is keyed by app_id first, so that a distributed
-- PostgreSQL can shard by application.

CREATE TABLE push_schema_version (
    version     integer PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE push_application (
    app_id      text PRIMARY KEY CHECK (app_id ~ '^[A-Za-z0-9._-]{1,255}$'),
    enabled     boolean NOT NULL DEFAULT true,
    settings    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Provider credentials. config holds what may be shown; secret holds the rest,
-- encrypted with AES-256-GCM under the key named by PushSecretKey.
CREATE TABLE push_credential (
    app_id      text NOT NULL REFERENCES push_application ON DELETE CASCADE,
    provider    text NOT NULL CHECK (provider IN ('apns', 'fcm', 'wns', 'webpush', 'sms')),
    config      jsonb NOT NULL DEFAULT '{}',
    secret      bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, provider)
);

CREATE TABLE push_device (
    app_id           text NOT NULL REFERENCES push_application ON DELETE CASCADE,
    device_id        text NOT NULL,
    platform         text NOT NULL CHECK (platform IN ('apns', 'fcm', 'wns', 'webpush', 'sms')),
    token            text NOT NULL,
    user_id          text,
    phone_number     text,
    user_agent       text,
    category_filter  text,            -- canonical text: '*', 'a,b' or '-a,b'; NULL = '*'
    categories       text[] NOT NULL DEFAULT '{}',
    categories_exclude boolean NOT NULL DEFAULT false,
    locale           text,
    source_family    text NOT NULL CHECK (source_family IN ('layer', 'navixy', 'rocketchat', 'mobilefirst')),
    session_ref      text,            -- push_session.token_hash of the registering session
    enabled          boolean NOT NULL DEFAULT true,
    invalid_since    timestamptz,     -- set when a provider rejects the token for good
    last_used_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    extra            jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (app_id, device_id)
);
-- No two live devices of an application share a platform and token.
CREATE UNIQUE INDEX push_device_token_live ON push_device (app_id, platform, token)
    WHERE invalid_since IS NULL;
CREATE INDEX push_device_user ON push_device (app_id, user_id, last_used_at);
CREATE INDEX push_device_session ON push_device (session_ref) WHERE session_ref IS NOT NULL;

CREATE TABLE push_tag (
    app_id      text NOT NULL REFERENCES push_application ON DELETE CASCADE,
    name        text NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, name)
);

CREATE TABLE push_subscription (
    app_id          text NOT NULL,
    subscription_id text NOT NULL,
    device_id       text NOT NULL,
    tag_name        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, subscription_id),
    UNIQUE (app_id, device_id, tag_name),
    FOREIGN KEY (app_id, device_id) REFERENCES push_device ON DELETE CASCADE,
    FOREIGN KEY (app_id, tag_name) REFERENCES push_tag ON DELETE CASCADE
);
CREATE INDEX push_subscription_tag ON push_subscription (app_id, tag_name, device_id);

CREATE TABLE push_message (
    app_id        text NOT NULL REFERENCES push_application ON DELETE CASCADE,
    message_id    text NOT NULL,
    body          jsonb NOT NULL,
    target        jsonb NOT NULL DEFAULT '{}',
    category      text,
    priority      text,
    collapse_key  text,
    send_at       timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'expanding', 'sending', 'done', 'cancelled', 'expired')),
    expand_cursor text,               -- last device_id expanded, for resumable audiences
    targeted      integer NOT NULL DEFAULT 0,
    sent          integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    invalid       integer NOT NULL DEFAULT 0,
    filtered      integer NOT NULL DEFAULT 0,
    expired       integer NOT NULL DEFAULT 0,
    lease_until   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, message_id)
);
CREATE INDEX push_message_due ON push_message (send_at)
    WHERE state IN ('pending', 'expanding');

-- The outbox: one row per message and device.
CREATE TABLE push_delivery (
    app_id          text NOT NULL,
    message_id      text NOT NULL,
    device_id       text NOT NULL,
    provider        text NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'invalid', 'filtered', 'expired', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    lease_owner     text,
    provider_id     text,
    error           text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, message_id, device_id),
    FOREIGN KEY (app_id, message_id) REFERENCES push_message ON DELETE CASCADE
);
CREATE INDEX push_delivery_due ON push_delivery (next_attempt_at)
    WHERE state = 'pending';

CREATE TABLE push_webhook (
    app_id      text NOT NULL REFERENCES push_application ON DELETE CASCADE,
    name        text NOT NULL,
    url         text NOT NULL,
    events      text[] NOT NULL DEFAULT '{}',
    secret      bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, name)
);

-- Registry and notification events, written in the transaction of the change and
-- delivered to webhooks by the sender.
CREATE TABLE push_event (
    event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id          text NOT NULL REFERENCES push_application ON DELETE CASCADE,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_event_due ON push_event (next_attempt_at) WHERE state = 'pending';

-- Built-in sessions of the user-facing dialects. Only the SHA-256 of a token is kept.
CREATE TABLE push_session (
    token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    app_id      text NOT NULL REFERENCES push_application ON DELETE CASCADE,
    user_id     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz
);
CREATE INDEX push_session_user ON push_session (app_id, user_id);

CREATE TABLE push_oauth_client (
    client_id   text PRIMARY KEY,
    secret_hash text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    scopes      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE push_access_token (
    token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    client_id   text NOT NULL REFERENCES push_oauth_client ON DELETE CASCADE,
    scopes      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX push_access_token_expiry ON push_access_token (expires_at);

-- Register or replace one device in a single round trip:
--  * a token moving to another device id leaves its old row (one live row per token);
--  * re-registering a device id replaces its token, owner and filter;
--  * a user over p_limit devices (p_limit > 0) loses the least recently used ones.
-- Returns true when the device was new.
CREATE FUNCTION push_device_register(
    p_app text, p_device text, p_platform text, p_token text, p_user text,
    p_family text, p_session text, p_filter text, p_categories text[],
    p_exclude boolean, p_extra jsonb, p_user_agent text, p_limit integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_created boolean;
BEGIN
    LOOP
        DELETE FROM push_device
         WHERE app_id = p_app AND platform = p_platform AND token = p_token
           AND device_id <> p_device;
        BEGIN
            INSERT INTO push_device AS d
                   (app_id, device_id, platform, token, user_id, user_agent, category_filter,
                    categories, categories_exclude, source_family, session_ref, extra)
            VALUES (p_app, p_device, p_platform, p_token, p_user, p_user_agent, p_filter,
                    coalesce(p_categories, '{}'), coalesce(p_exclude, false), p_family, p_session,
                    coalesce(p_extra, '{}'))
            ON CONFLICT (app_id, device_id) DO UPDATE
               SET platform = EXCLUDED.platform, token = EXCLUDED.token,
                   user_id = EXCLUDED.user_id, user_agent = EXCLUDED.user_agent,
                   category_filter = EXCLUDED.category_filter, categories = EXCLUDED.categories,
                   categories_exclude = EXCLUDED.categories_exclude,
                   source_family = EXCLUDED.source_family, session_ref = EXCLUDED.session_ref,
                   extra = EXCLUDED.extra, enabled = true, invalid_since = NULL,
                   last_used_at = clock_timestamp(), updated_at = now()
            RETURNING (d.xmax = 0) INTO v_created;
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            -- another transaction registered the same token under another device id
            -- between our DELETE and INSERT: take the token over on the next turn.
        END;
    END LOOP;

    IF p_limit > 0 AND p_user IS NOT NULL THEN
        DELETE FROM push_device
         WHERE app_id = p_app AND device_id IN (
               SELECT device_id FROM push_device
                WHERE app_id = p_app AND user_id = p_user
                ORDER BY last_used_at DESC, device_id
               OFFSET p_limit);
    END IF;
    RETURN v_created;
END
$$;

INSERT INTO push_schema_version (version) VALUES (1);
