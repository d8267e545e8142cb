#include "service/oauth.h"

#include "apr_strings.h"
#include <openssl/crypto.h>

#include "config.h"
#include "core/scope.h"
#include "core/token.h"
#include "store/store.h"

/* Whether the space-separated list holds an entry equal to name, or (prefix) starting with it. */
static int list_has(apr_pool_t *p, const char *list, const char *name, int prefix)
{
    char *copy = apr_pstrdup(p, list), *state = NULL, *s;
    for (s = apr_strtok(copy, " ", &state); s; s = apr_strtok(NULL, " ", &state))
        if (prefix ? strncmp(s, name, strlen(name)) == 0 : strcmp(s, name) == 0)
            return 1;
    return 0;
}

/* The device SDKs ask for push.mobileclient alone: their token also gets the client's
 * application scopes, without which it could reach no application. */
static const char *with_app_scopes(apr_pool_t *p, const char *granted, const char *allowed)
{
    char *copy, *state = NULL, *s;
    const char *out = granted;
    if (!list_has(p, granted, PUSH_SCOPE_MOBILECLIENT, 0) ||
        list_has(p, granted, "push.application.", 1))
        return granted;
    copy = apr_pstrdup(p, allowed);
    for (s = apr_strtok(copy, " ", &state); s; s = apr_strtok(NULL, " ", &state))
        if (strncmp(s, "push.application.", 17) == 0)
            out = apr_pstrcat(p, out, " ", s, NULL);
    return out;
}

/* Compares secret hashes without leaking where they differ. */
static int same_hash(const char *a, const char *b)
{
    return a && b && strlen(a) == strlen(b) && CRYPTO_memcmp(a, b, strlen(a)) == 0;
}

push_oauth_result_t push_oauth_issue(request_rec *r, const char *client_id, const char *secret,
                                     const char *scope, push_oauth_grant_t *out)
{
    const push_oauth_client_t *conf = push_conf_oauth_client(r->server, client_id);
    const char *given = push_token_hash(r->pool, secret, strlen(secret));
    const char *hash = NULL, *scopes = NULL, *token;
    int lifetime = push_conf_token_lifetime(r->server);
    push_db_t *db;

    memset(out, 0, sizeof(*out));
    if (conf) {
        hash = conf->secret_hash;
        scopes = conf->scopes;
    } else {
        push_status_t rv = push_db_acquire(r, &db);
        if (rv == PUSH_OK)
            rv = push_store_oauth_client(db, client_id, &hash, &scopes);
        if (rv == PUSH_NOTFOUND)
            return PUSH_OAUTH_INVALID_CLIENT;
        if (rv != PUSH_OK)
            return PUSH_OAUTH_UNAVAILABLE;
    }
    if (!same_hash(given, hash))
        return PUSH_OAUTH_INVALID_CLIENT;
    if (scope && *scope) {
        if (!push_scope_list_all_covered(r->pool, scopes, scope, &out->bad_scope))
            return PUSH_OAUTH_INVALID_SCOPE;
        scopes = with_app_scopes(r->pool, scope, scopes);
    }
    token = push_token_new(r->pool, 32);
    if (!token)
        return PUSH_OAUTH_UNAVAILABLE;
    hash = push_token_hash(r->pool, token, strlen(token));
    if (push_db_acquire(r, &db) != PUSH_OK ||
        push_store_token_insert(db, hash, client_id, scopes, lifetime) != PUSH_OK)
        return PUSH_OAUTH_UNAVAILABLE;
    out->access_token = token;
    out->scope = scopes;
    out->expires_in = lifetime;
    return PUSH_OAUTH_OK;
}

push_status_t push_oauth_token_scopes(request_rec *r, const char *token, const char **scopes)
{
    const char *client_id = NULL;
    push_db_t *db;
    push_status_t rv = push_db_acquire(r, &db);
    *scopes = NULL;
    if (rv != PUSH_OK)
        return rv;
    return push_store_token_get(db, push_token_hash(r->pool, token, strlen(token)), &client_id, scopes);
}
