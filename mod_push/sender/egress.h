/* The egress guard: URLs that tenants and end users supply (webhooks; later a service
 * account's token_uri, WNS channel URIs, Web Push endpoints, SMS gateways) must never
 * reach an internal address. Two checks: the URL when it is stored or used (a literal
 * internal host, credentials in the URL, another scheme), and the address libcurl
 * actually connects to after DNS. PushEgressAllow exempts destinations (staging hosts,
 * the tests' loopback mocks). Endpoints the operator configures are trusted and never
 * pass through here. No httpd headers: the unit tests link it alone. */
#ifndef PUSH_EGRESS_H
#define PUSH_EGRESS_H

#include <apr_pools.h>

struct sockaddr;

typedef struct push_egress push_egress_t;          /* the PushEgressAllow list, built at config time */

/* An empty allow list. */
push_egress_t *push_egress_make(apr_pool_t *p);

/* Adds one PushEgressAllow value: ADDRESS[/PREFIX][:PORT], IPv6 in brackets when a port
 * follows ("[::1]:8443", "[fd00::/8]", "fd00::/8", "127.0.0.1:40073", "10.0.0.0/8").
 * Returns NULL, or why the value is not one (for the configuration error). */
const char *push_egress_allow(apr_pool_t *p, push_egress_t *g, const char *spec);

/* Makes libcurl handle `easy` refuse to connect to any address the guard refuses; sets *refused = 1
 * when it refused one (state must outlive the transfer). g may be NULL (= nothing exempt).
 * libcurl then tries the name's next address, if any: when the transfer fails with
 * CURLE_ABORTED_BY_CALLBACK (or CURLE_COULDNT_CONNECT) and *refused is set, the guard is why.
 * It also turns off proxies from the environment (CURLOPT_PROXY "", CURLOPT_NOPROXY "*"):
 * a request sent through an operator's proxy (PushProviderEndpoint webhook-proxy) is not
 * attached, since the address connected is then the trusted proxy's, and relies on
 * push_egress_url_problem.
 * Connections libcurl keeps open are reused only by handles of the same multi handle:
 * keep guarded and unguarded transfers on different multi handles. */
void push_egress_attach(void *easy, const push_egress_t *g, int *refused);
/* What push_egress_attach's socket-option callback checks, for a caller that installs a
 * callback of its own afterwards: 1 when s is the unconnectable socket the guard opens
 * for a refused address (a socket of libcurl's own is never refused). */
int push_egress_socket_refused(int s);

/* A tenant URL checked before it is stored or used: https or http only, a host, no userinfo
 * (user:pass@), no literal refused address (also decimal/octal/hex IPv4 forms like 2130706433,
 * 0x7f.1, 017700000001, and "localhost", "*.localhost"); returns NULL when acceptable, else a short reason. */
const char *push_egress_url_problem(apr_pool_t *p, const char *url, const push_egress_t *g);

/* The check behind both: NULL when a connection to sa (AF_INET or AF_INET6, its port
 * included) is allowed, else what the address is ("loopback", "private (RFC 1918)", ...).
 * Exported for the unit tests. */
const char *push_egress_addr_problem(const struct sockaddr *sa, const push_egress_t *g);

/* Whether PushEgressAllow names sa (its port included) itself: a destination the operator
 * let through on purpose, as opposed to one that is merely not internal. WNS accepts such
 * a destination as a channel host besides *.notify.windows.com (staging, the tests' mock). */
int push_egress_exempt(const struct sockaddr *sa, const push_egress_t *g);

/* The failure reason recorded when the guard refused a connection. */
#define PUSH_EGRESS_REFUSED "refused by the egress guard"

#endif
