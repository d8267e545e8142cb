/* The egress guard (see egress.h): which addresses a tenant's URL may reach, checked on
 * the URL and again on the address libcurl connects to. */
#include "egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <curl/curl.h>

typedef struct {
    int v6;                   /* the address family: 0 IPv4, 1 IPv6 */
    unsigned char addr[16];   /* network order; IPv4 in the first 4 bytes */
    int bits;                 /* prefix length */
    int port;                 /* 0: any port */
} allow_t;

struct push_egress {
    allow_t *v;
    int n, cap;
};

/* --- address classes ----------------------------------------------------------------- */

typedef struct {
    unsigned char net[16];
    int bits;
    const char *what;
} range_t;

static const range_t v4_refused[] = {
    {{255, 255, 255, 255}, 32, "broadcast"},
    {{0}, 8, "unspecified (0.0.0.0/8)"},
    {{10}, 8, "private (RFC 1918)"},
    {{100, 64}, 10, "shared address space (CGNAT)"},
    {{127}, 8, "loopback"},
    {{169, 254}, 16, "link-local"},
    {{172, 16}, 12, "private (RFC 1918)"},
    {{192, 0, 0}, 24, "IETF protocol assignments"},
    {{192, 0, 2}, 24, "documentation"},
    {{192, 168}, 16, "private (RFC 1918)"},
    {{198, 18}, 15, "benchmarking"},
    {{198, 51, 100}, 24, "documentation"},
    {{203, 0, 113}, 24, "documentation"},
    {{224}, 4, "multicast"},
    {{240}, 4, "reserved"},
};

/* IPv6 ranges refused outright; the forms that embed an IPv4 address are judged by it
 * (see v6_embedded). */
static const range_t v6_refused[] = {
    {{0}, 128, "unspecified (::)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {{0}, 96, "IPv4-compatible (deprecated)"},
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, "NAT64 local-use"},
    {{0x01, 0x00}, 64, "discard-only"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {{0xfc}, 7, "unique local (ULA)"},
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "site-local (deprecated)"},
    {{0xff}, 8, "multicast"},
};

static int in_prefix(const unsigned char *a, const unsigned char *net, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)whole) != 0)
        return 0;
    return !rest || ((a[whole] ^ net[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static const char *range_of(const range_t *r, size_t n, const unsigned char *a)
{
    for (size_t i = 0; i < n; i++)
        if (in_prefix(a, r[i].net, r[i].bits))
            return r[i].what;
    return NULL;
}

/* The IPv4 address an IPv6 one stands for: IPv4-mapped (::ffff:0:0/96), IPv4-translated
 * (SIIT, ::ffff:0:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16). Returns 0 when a
 * is none of those. */
static int v6_embedded(const unsigned char *a, unsigned char *v4)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char siit[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, siit, 12) == 0 || memcmp(a, nat64, 12) == 0) {
        memcpy(v4, a + 12, 4);
        return 1;
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        return 1;
    }
    return 0;
}

static int allowed(const push_egress_t *g, int v6, const unsigned char *a, int port)
{
    for (int i = 0; g && i < g->n; i++) {
        const allow_t *e = &g->v[i];
        if (e->v6 == v6 && (!e->port || e->port == port) && in_prefix(a, e->addr, e->bits))
            return 1;
    }
    return 0;
}

const char *push_egress_addr_problem(const struct sockaddr *sa, const push_egress_t *g)
{
    unsigned char a[16], v4[4];
    int port;
    if (!sa)
        return "no address";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(a, &in->sin_addr, 4);
        port = ntohs(in->sin_port);
        if (allowed(g, 0, a, port))
            return NULL;
        return range_of(v4_refused, sizeof(v4_refused) / sizeof(v4_refused[0]), a);
    }
    if (sa->sa_family != AF_INET6)
        return "not an internet address";
    memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    if (allowed(g, 1, a, port))
        return NULL;
    if (v6_embedded(a, v4)) {
        /* ::ffff:127.0.0.1 reaches 127.0.0.1: the IPv4 rules and exemptions apply */
        if (allowed(g, 0, v4, port))
            return NULL;
        return range_of(v4_refused, sizeof(v4_refused) / sizeof(v4_refused[0]), v4);
    }
    return range_of(v6_refused, sizeof(v6_refused) / sizeof(v6_refused[0]), a);
}

int push_egress_exempt(const struct sockaddr *sa, const push_egress_t *g)
{
    unsigned char a[16], v4[4];
    int port;
    if (!sa || !g)
        return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return allowed(g, 0, a, ntohs(((const struct sockaddr_in *)sa)->sin_port));
    }
    if (sa->sa_family != AF_INET6)
        return 0;
    memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return allowed(g, 1, a, port) || (v6_embedded(a, v4) && allowed(g, 0, v4, port));
}

/* --- PushEgressAllow ------------------------------------------------------------------- */

push_egress_t *push_egress_make(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(push_egress_t));
}

/* A whole decimal number from min to max, or -1. */
static int number(const char *s, int min, int max)
{
    char *end;
    apr_int64_t n;
    if (!s || !apr_isdigit(*s))
        return -1;
    n = apr_strtoi64(s, &end, 10);
    return *end || n < min || n > max ? -1 : (int)n;
}

const char *push_egress_allow(apr_pool_t *p, push_egress_t *g, const char *spec)
{
    char *addr = apr_pstrdup(p, spec), *prefix = NULL, *port = NULL, *close;
    apr_ipsubnet_t *sub;
    allow_t e = {0, {0}, 0, 0};
    int max;

    if (addr[0] == '[') {
        /* [ADDRESS], [ADDRESS/PREFIX] or [ADDRESS]/PREFIX, then :PORT */
        if (!(close = strchr(addr, ']')))
            return "an IPv6 address opened with '[' must close with ']'";
        *close++ = '\0';
        addr++;
        if (*close == '/') {
            prefix = close + 1;
            if ((port = strchr(prefix, ':')))
                *port++ = '\0';
        } else if (*close == ':') {
            port = close + 1;
        } else if (*close) {
            return "only /PREFIX or :PORT may follow ']'";
        }
        if (!strchr(addr, ':'))
            return "brackets are for IPv6 addresses";
    } else if (strchr(addr, ':') != strrchr(addr, ':')) {
        /* IPv6 without brackets takes no port */
    } else if ((port = strchr(addr, ':'))) {
        *port++ = '\0';
    }
    if (!prefix && (prefix = strchr(addr, '/')))
        *prefix++ = '\0';
    e.v6 = strchr(addr, ':') != NULL;
    if (inet_pton(e.v6 ? AF_INET6 : AF_INET, addr, e.addr) != 1)
        return apr_psprintf(p, "'%s' is not an IPv4 or IPv6 address", addr);
    max = e.v6 ? 128 : 32;
    e.bits = prefix ? number(prefix, 0, max) : max;
    if (e.bits < 0)
        return apr_psprintf(p, "'/%s' is not a prefix length from 0 to %d", prefix, max);
    /* APR's own reading of the subnet, as Require ip has it: both must accept it */
    if (apr_ipsubnet_create(&sub, addr, prefix, p) != APR_SUCCESS)
        return apr_psprintf(p, "'%s%s%s' is not a subnet", addr, prefix ? "/" : "", prefix ? prefix : "");
    if (port && (e.port = number(port, 1, 65535)) < 0)
        return apr_psprintf(p, "':%s' is not a port from 1 to 65535", port);
    for (int i = e.bits; i < 128; i++)
        e.addr[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
    if (g->n == g->cap) {
        allow_t *v = apr_palloc(p, sizeof(*v) * (size_t)(g->cap = g->cap ? 2 * g->cap : 4));
        if (g->n)
            memcpy(v, g->v, sizeof(*v) * (size_t)g->n);
        g->v = v;
    }
    g->v[g->n++] = e;
    return NULL;
}

/* --- the connection -------------------------------------------------------------------- */

/* libcurl's open-socket callback sees the address and the allow list, its sockopt
 * callback sees the caller's flag; a refused address gets a socket that can never be
 * connected (AF_UNIX), which the sockopt callback recognizes, flags and fails. */
static curl_socket_t open_guarded(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
    const push_egress_t *g = data;
    int ok = purpose == CURLSOCKTYPE_IPCXN && (a->family == AF_INET || a->family == AF_INET6) &&
             push_egress_addr_problem(&a->addr, g) == NULL;
    curl_socket_t s = ok ? socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol)
                         : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return s < 0 ? CURL_SOCKET_BAD : s;
}

int push_egress_socket_refused(int s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    return getsockname(s, (struct sockaddr *)&ss, &len) != 0 ||
           (ss.ss_family != AF_INET && ss.ss_family != AF_INET6);
}

static int check_guarded(void *data, curl_socket_t s, curlsocktype purpose)
{
    (void)purpose;
    if (push_egress_socket_refused(s)) {
        *(int *)data = 1;
        return CURL_SOCKOPT_ERROR;
    }
    return CURL_SOCKOPT_OK;
}

void push_egress_attach(void *easy, const push_egress_t *g, int *refused)
{
    CURL *e = easy;
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, (void *)g);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, check_guarded);
    curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, refused);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");   /* nor is no_proxy read for every request */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
}

/* --- the URL --------------------------------------------------------------------------- */

/* A host name's own problem: NULL when it is a name to resolve (the connection is
 * checked then), else why not. A literal address is judged with port. */
static const char *host_problem(apr_pool_t *p, char *host, int port, const push_egress_t *g)
{
    apr_size_t n = strlen(host);
    const char *last;
    while (n > 0 && host[n - 1] == '.')
        host[--n] = '\0';   /* "localhost." is localhost */
    if (!n)
        return "the URL has no host";
    if (strchr(host, ':')) {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof(in6));
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons((unsigned short)port);
        if (strchr(host, '%') || inet_pton(AF_INET6, host, &in6.sin6_addr) != 1)
            return "the host is not a valid IPv6 address";
        last = push_egress_addr_problem((struct sockaddr *)&in6, g);
        return last ? apr_pstrcat(p, "the host is a refused address: ", last, NULL) : NULL;
    }
    for (char *c = host; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '.' && *c != '_')
            return (unsigned char)*c >= 0x80 ? "the host must be ASCII (an international name in punycode)"
                                             : "the host has a character a host name cannot have";
        *c = (char)apr_tolower(*c);
    }
    if (strstr(host, ".."))
        return "the host has an empty label";
    if (strcmp(host, "localhost") == 0 || strcmp(host, "localhost.localdomain") == 0 ||
        (n > 10 && strcmp(host + n - 10, ".localhost") == 0))
        return "the host is a refused address: loopback (localhost)";
    last = strrchr(host, '.');
    last = last ? last + 1 : host;
    if (apr_isdigit(*last)) {
        /* No top-level domain starts with a digit: this is an IPv4 address in one of the
         * forms resolvers accept (127.1, 2130706433, 0x7f.1, 017700000001), or nothing. */
        struct sockaddr_in in;
        memset(&in, 0, sizeof(in));
        in.sin_family = AF_INET;
        in.sin_port = htons((unsigned short)port);
        if (!inet_aton(host, &in.sin_addr))
            return "the host is not a valid IPv4 address";
        last = push_egress_addr_problem((struct sockaddr *)&in, g);
        return last ? apr_pstrcat(p, "the host is a refused address: ", last, NULL) : NULL;
    }
    return NULL;
}

const char *push_egress_url_problem(apr_pool_t *p, const char *url, const push_egress_t *g)
{
    apr_uri_t u;
    const char *authority, *end;
    int https;
    if (!url || !*url)
        return "the URL is empty";
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\')
            return "the URL has a space, a control character or a backslash";
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme)
        return "not a URL";
    https = strcasecmp(u.scheme, "https") == 0;
    if (!https && strcasecmp(u.scheme, "http") != 0)
        return "the scheme must be http or https";
    authority = strstr(url, "://");
    if (!authority)
        return "the URL has no host";
    authority += 3;
    end = authority + strcspn(authority, "/?#");
    if (u.user || u.password || memchr(authority, '@', (size_t)(end - authority)))
        return "the URL carries credentials (user:password@)";
    if (!u.hostname || !*u.hostname)
        return "the URL has no host";
    if (u.port_str && (!*u.port_str || number(u.port_str, 1, 65535) < 0))
        return "the port is not a number from 1 to 65535";
    return host_problem(p, apr_pstrdup(p, u.hostname), u.port_str ? u.port : (https ? 443 : 80), g);
}
