/* pushctl: the operator's command line for mod_push's store: schema migrations,
 * applications, built-in sessions and OAuth clients. It links the module's core
 * (tokens, validation, schema version) and speaks to PostgreSQL through libpq. */
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "core/token.h"
#include "core/validate.h"
#include "core/version.h"

#define EXIT_USAGE 2

typedef struct {
    const char *name;
    const char *usage;
    int (*run)(apr_pool_t *p, PGconn *db, int argc, char **argv);
} command_t;

static const char *conninfo;

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "pushctl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: pushctl %s\n", usage);
    return EXIT_USAGE;
}

static PGresult *run_sql(PGconn *db, const char *sql, int n, const char *const *args,
                         ExecStatusType want)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, args, NULL, NULL, 0);
    if (PQresultStatus(res) != want) {
        fprintf(stderr, "pushctl: %s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* --- migrate ---------------------------------------------------------------------- */

static const char *sql_dir(void)
{
    const char *d = getenv("PUSH_SQL_DIR");
    return d && *d ? d : PUSH_SQLDIR;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *read_file(apr_pool_t *p, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = apr_palloc(p, (apr_size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int current_version(PGconn *db)
{
    PGresult *res = PQexec(db, "SELECT coalesce(max(version), 0) FROM push_schema_version");
    int v = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return v;
}

static int cmd_migrate(apr_pool_t *p, PGconn *db, int argc, char **argv)
{
    const char *dir = sql_dir();
    DIR *d = opendir(dir);
    struct dirent *e;
    apr_array_header_t *files = apr_array_make(p, 8, sizeof(char *));
    int applied = 0;

    if (argc > 1)
        return usage_error("migrate", "unexpected argument '%s'", argv[1]);
    if (!d) {
        fprintf(stderr, "pushctl: cannot read migrations in %s: %s (set PUSH_SQL_DIR)\n", dir,
                strerror(errno));
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 8 && e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
            strcmp(e->d_name + n - 4, ".sql") == 0)
            APR_ARRAY_PUSH(files, char *) = apr_pstrdup(p, e->d_name);
    }
    closedir(d);
    qsort(files->elts, (size_t)files->nelts, sizeof(char *), by_name);

    for (int i = 0; i < files->nelts; i++) {
        const char *name = APR_ARRAY_IDX(files, i, char *);
        int version = atoi(name);
        char *sql;
        PGresult *res;

        if (version > PUSH_SCHEMA_VERSION)
            break; /* a later build's migration: not ours to apply */
        /* One transaction per migration; the advisory lock makes concurrent runs wait,
         * and the version is read again under it. */
        res = PQexec(db, "BEGIN; SELECT pg_advisory_xact_lock(7366821)");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "pushctl: %s", PQresultErrorMessage(res));
            PQclear(res);
            return 1;
        }
        PQclear(res);
        if (current_version(db) >= version) {
            PQclear(PQexec(db, "ROLLBACK"));
            continue;
        }
        PQclear(PQexec(db, "ROLLBACK; BEGIN; SELECT pg_advisory_xact_lock(7366821)"));
        if (!(sql = read_file(p, apr_pstrcat(p, dir, "/", name, NULL)))) {
            fprintf(stderr, "pushctl: cannot read %s/%s\n", dir, name);
            PQclear(PQexec(db, "ROLLBACK"));
            return 1;
        }
        res = PQexec(db, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "pushctl: migration %s failed: %s", name, PQresultErrorMessage(res));
            PQclear(res);
            PQclear(PQexec(db, "ROLLBACK"));
            return 1;
        }
        PQclear(res);
        res = PQexec(db, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "pushctl: migration %s failed: %s", name, PQresultErrorMessage(res));
            PQclear(res);
            return 1;
        }
        PQclear(res);
        printf("applied %s\n", name);
        applied++;
    }
    if (current_version(db) != PUSH_SCHEMA_VERSION) {
        fprintf(stderr, "pushctl: the database is at schema version %d, this build needs %d; "
                "migrations are read from %s\n", current_version(db), PUSH_SCHEMA_VERSION, dir);
        return 1;
    }
    printf("schema version %d (%d migration%s applied)\n", PUSH_SCHEMA_VERSION, applied,
           applied == 1 ? "" : "s");
    return 0;
}

/* --- app -------------------------------------------------------------------------- */

/* app set ID id-only on|off [HOST]: privacy mode, in which pushes carry only the message id
 * (and HOST, the server URL apps fetch it from: Rocket.Chat's push.get). */
static int app_set(PGconn *db, int argc, char **argv, const char *usage)
{
    const char *args[3];
    PGresult *res;
    if (argc < 5 || argc > 6 || strcmp(argv[3], "id-only") != 0 ||
        (strcmp(argv[4], "on") != 0 && strcmp(argv[4], "off") != 0))
        return usage_error(usage, "%s", "app set takes: ID id-only on|off [HOST]");
    if (argc == 6 && !push_valid_https_url(argv[5], strlen(argv[5])))
        return usage_error(usage, "'%s' is not an http(s) URL", argv[5]);
    args[0] = argv[2];
    args[1] = strcmp(argv[4], "on") == 0 ? "true" : "false";
    args[2] = argc == 6 ? argv[5] : NULL;
    if (!(res = run_sql(db, "UPDATE push_application SET settings = settings || "
                        "jsonb_build_object('idOnly', $2::boolean) || "
                        "CASE WHEN $3::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('host', $3::text) END, "
                        "updated_at = now() WHERE app_id = $1", 3, args, PGRES_COMMAND_OK)))
        return 1;
    if (!atoi(PQcmdTuples(res))) {
        fprintf(stderr, "pushctl: no application %s\n", argv[2]);
        PQclear(res);
        return 1;
    }
    printf("%s: id-only %s\n", argv[2], argv[4]);
    PQclear(res);
    return 0;
}

static int cmd_app(apr_pool_t *p, PGconn *db, int argc, char **argv)
{
    static const char *usage = "app add ID | app list | app rm ID | app set ID id-only on|off [HOST]";
    PGresult *res;
    if (argc >= 2 && strcmp(argv[1], "set") == 0) {
        if (argc < 3 || !push_valid_app_id(argv[2], strlen(argv[2])))
            return usage_error(usage, "%s", "app set needs an application id");
        return app_set(db, argc, argv, usage);
    }
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        if (!(res = run_sql(db, "SELECT app_id, CASE WHEN enabled THEN 'enabled' ELSE "
                            "'disabled' END, (SELECT count(*) FROM push_device d WHERE d.app_id "
                            "= a.app_id) FROM push_application a ORDER BY app_id", 0, NULL,
                            PGRES_TUPLES_OK)))
            return 1;
        for (int i = 0; i < PQntuples(res); i++)
            printf("%s\t%s\t%s devices\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2));
        PQclear(res);
        return 0;
    }
    if (argc != 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "rm")))
        return usage_error(usage, "%s", argc < 2 ? "app needs a subcommand" : "bad arguments");
    if (!push_valid_app_id(argv[2], strlen(argv[2])))
        return usage_error(usage, "'%s' is not an application id (A-Z a-z 0-9 . _ -)", argv[2]);
    if (strcmp(argv[1], "add") == 0) {
        const char *args[] = {argv[2]};
        if (!(res = run_sql(db, "INSERT INTO push_application (app_id) VALUES ($1) "
                            "ON CONFLICT DO NOTHING", 1, args, PGRES_COMMAND_OK)))
            return 1;
        printf("%s %s\n", argv[2], atoi(PQcmdTuples(res)) ? "added" : "already exists");
    } else {
        const char *args[] = {argv[2]};
        if (!(res = run_sql(db, "DELETE FROM push_application WHERE app_id = $1", 1, args,
                            PGRES_COMMAND_OK)))
            return 1;
        if (!atoi(PQcmdTuples(res))) {
            fprintf(stderr, "pushctl: no application %s\n", argv[2]);
            PQclear(res);
            return 1;
        }
        printf("%s removed\n", argv[2]);
    }
    PQclear(res);
    return 0;
}

/* --- session ---------------------------------------------------------------------- */

static int cmd_session(apr_pool_t *p, PGconn *db, int argc, char **argv)
{
    static const char *usage = "session add --user USER --app APP [--ttl SECONDS] | session rm TOKEN";
    PGresult *res;

    if (argc >= 2 && strcmp(argv[1], "add") == 0) {
        const char *user = NULL, *app = NULL, *ttl = NULL, *token, *hash;
        for (int i = 2; i < argc; i++) {
            const char **slot = !strcmp(argv[i], "--user") ? &user : !strcmp(argv[i], "--app")
                                ? &app : !strcmp(argv[i], "--ttl") ? &ttl : NULL;
            if (!slot)
                return usage_error(usage, "unknown option '%s'", argv[i]);
            if (i + 1 >= argc)
                return usage_error(usage, "%s needs a value", argv[i]);
            *slot = argv[++i];
        }
        if (!user || !app)
            return usage_error(usage, "%s", "session add needs --user and --app");
        if (!push_valid_text(user, strlen(user), PUSH_MAX_ID))
            return usage_error(usage, "'%s' is not a user id (1 to 255 characters)", user);
        if (ttl) {
            char *end;
            long n = strtol(ttl, &end, 10);
            if (*end || end == ttl || n <= 0)
                return usage_error(usage, "--ttl '%s' is not a positive number of seconds", ttl);
        }
        token = push_token_new(p, 16);
        hash = token ? push_token_hash(p, token, strlen(token)) : NULL;
        if (!hash) {
            fprintf(stderr, "pushctl: no random bytes available\n");
            return 1;
        }
        {
            const char *args[] = {hash, app, user, ttl};
            if (!(res = run_sql(db, "INSERT INTO push_session (token_hash, app_id, user_id, "
                                "expires_at) SELECT $1, app_id, $3, now() + make_interval(secs "
                                "=> $4::integer) FROM push_application WHERE app_id = $2", 4,
                                args, PGRES_COMMAND_OK)))
                return 1;
        }
        if (!atoi(PQcmdTuples(res))) {
            fprintf(stderr, "pushctl: no application %s (pushctl app add %s)\n", app, app);
            PQclear(res);
            return 1;
        }
        PQclear(res);
        printf("%s\n", token);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "rm") == 0) {
        const char *args[] = {push_token_hash(p, argv[2], strlen(argv[2]))};
        if (!(res = run_sql(db, "DELETE FROM push_session WHERE token_hash = $1", 1, args,
                            PGRES_COMMAND_OK)))
            return 1;
        if (!atoi(PQcmdTuples(res))) {
            fprintf(stderr, "pushctl: no such session\n");
            PQclear(res);
            return 1;
        }
        PQclear(res);
        printf("session removed\n");
        return 0;
    }
    return usage_error(usage, "%s", "bad arguments");
}

/* --- client ----------------------------------------------------------------------- */

static int cmd_client(apr_pool_t *p, PGconn *db, int argc, char **argv)
{
    static const char *usage = "client add ID --scope \"SCOPES\" | client rm ID";
    PGresult *res;

    if (argc == 5 && strcmp(argv[1], "add") == 0 && strcmp(argv[3], "--scope") == 0) {
        const char *secret = push_token_new(p, 24), *hash;
        if (!push_valid_app_id(argv[2], strlen(argv[2])))
            return usage_error(usage, "'%s' is not a client id (A-Z a-z 0-9 . _ -)", argv[2]);
        if (!push_valid_text(argv[4], strlen(argv[4]), 4096))
            return usage_error(usage, "%s", "--scope needs a space-separated list of scopes");
        hash = secret ? push_token_hash(p, secret, strlen(secret)) : NULL;
        if (!hash) {
            fprintf(stderr, "pushctl: no random bytes available\n");
            return 1;
        }
        {
            const char *args[] = {argv[2], hash, argv[4]};
            if (!(res = run_sql(db, "INSERT INTO push_oauth_client (client_id, secret_hash, "
                                "scopes) VALUES ($1, $2, $3)", 3, args, PGRES_COMMAND_OK)))
                return 1;
        }
        PQclear(res);
        printf("%s\n", secret);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "rm") == 0) {
        const char *args[] = {argv[2]};
        /* tokens go with their client (they carry no foreign key: see 002_mobilefirst.sql) */
        if (!(res = run_sql(db, "WITH gone AS (DELETE FROM push_access_token WHERE client_id = $1) "
                            "DELETE FROM push_oauth_client WHERE client_id = $1", 1, args,
                            PGRES_COMMAND_OK)))
            return 1;
        if (!atoi(PQcmdTuples(res))) {
            fprintf(stderr, "pushctl: no client %s\n", argv[2]);
            PQclear(res);
            return 1;
        }
        PQclear(res);
        printf("client %s removed\n", argv[2]);
        return 0;
    }
    return usage_error(usage, "%s", "bad arguments");
}

static const command_t commands[] = {
    {"migrate", "migrate", cmd_migrate},
    {"app", "app add ID | app list | app rm ID | app set ID id-only on|off [HOST]", cmd_app},
    {"session", "session add --user USER --app APP [--ttl SECONDS] | session rm TOKEN",
     cmd_session},
    {"client", "client add ID --scope \"SCOPES\" | client rm ID", cmd_client},
    {NULL, NULL, NULL}
};

static void help(FILE *out)
{
    fprintf(out, "usage: pushctl [-d CONNINFO] COMMAND ...\n"
                 "       pushctl --version | --help\n\n"
                 "The database is -d's libpq conninfo, else $PUSH_PG.\n\ncommands:\n");
    for (const command_t *c = commands; c->name; c++)
        fprintf(out, "  pushctl %s\n", c->usage);
    fprintf(out, "\nMigrations are read from $PUSH_SQL_DIR, else %s.\n", PUSH_SQLDIR);
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    const command_t *cmd = NULL;
    PGconn *db;
    int i = 1, rc;

    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    conninfo = getenv("PUSH_PG");
    if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
        help(stdout);
        return 0;
    }
    if (i < argc && !strcmp(argv[i], "--version")) {
        if (argc > 2)
            return usage_error("--version", "unexpected argument '%s'", argv[2]);
        printf("pushctl (mod_push) %s, schema version %d\n", PUSH_VERSION, PUSH_SCHEMA_VERSION);
        return 0;
    }
    if (i < argc && strcmp(argv[i], "-d") == 0) {
        if (i + 1 >= argc) {
            help(stderr);
            return EXIT_USAGE;
        }
        conninfo = argv[i + 1];
        i += 2;
    }
    if (i < argc)
        for (const command_t *c = commands; c->name; c++)
            if (strcmp(c->name, argv[i]) == 0)
                cmd = c;
    if (!cmd) {
        if (i < argc)
            fprintf(stderr, "pushctl: unknown command '%s'\n", argv[i]);
        help(stderr);
        return EXIT_USAGE;
    }
    for (int k = i + 1; k < argc; k++)
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
            printf("usage: pushctl [-d CONNINFO] %s\n", cmd->usage);
            return 0;
        }
    if (!conninfo) {
        fprintf(stderr, "pushctl: no database: set PUSH_PG or pass -d CONNINFO\n");
        return EXIT_USAGE;
    }
    db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "pushctl: cannot connect: %s", PQerrorMessage(db));
        PQfinish(db);
        return 1;
    }
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    rc = cmd->run(pool, db, argc - i, argv + i);
    PQfinish(db);
    return rc;
}
