/* The bridge from requests to the store: connections from mod_dbd's pool, the
 * schema check, and recovery when PostgreSQL restarts under a pooled connection. */
#ifndef PUSH_DBD_H
#define PUSH_DBD_H

#include "httpd.h"
#include "store/db.h"

typedef push_status_t (*push_db_fn)(push_db_t *db, void *ctx);

/* Runs fn on a pooled connection and gives the connection back. Returns fn's status,
 * PUSH_EUNAVAIL when no working connection could be had, or PUSH_ESCHEMA. Failures
 * are logged here; callers only choose their answer. */
push_status_t push_db_with(request_rec *r, push_db_fn fn, void *ctx);

/* Registers every statement of statements.c with mod_dbd, once per mod_dbd server record
 * (virtual hosts without DBD directives share the main server's). */
void push_db_prepare_all(server_rec *s, apr_pool_t *ptemp);

/* Looks at the database behind s's DBDParams and logs what it finds: used at
 * startup and when no connection can be had; with apps, also the PushApplication ids
 * that the database does not know. Returns PUSH_OK, PUSH_EUNAVAIL or
 * PUSH_ESCHEMA. */
push_status_t push_db_diagnose(server_rec *s, apr_pool_t *p, int level_ok, int apps);

#endif
