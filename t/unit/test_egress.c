/* The egress guard: address classes, the PushEgressAllow list, tenant URLs, and a real
 * libcurl connection to a loopback listener refused (and allowed when listed). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "sender/egress.h"
#include "unit.h"

static apr_pool_t *pool;

/* What the guard says of a connection to addr:port ("ok" when allowed). */
static const char *conn(const push_egress_t *g, const char *addr, int port)
{
    struct sockaddr_storage ss;
    const char *why;
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
            return "bad test address";
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)port);
        if (inet_pton(AF_INET, addr, &in->sin_addr) != 1)
            return "bad test address";
    }
    why = push_egress_addr_problem((struct sockaddr *)&ss, g);
    return why ? why : "ok";
}

static int refused(const push_egress_t *g, const char *addr)
{
    return strcmp(conn(g, addr, 443), "ok") != 0;
}

static const char *url(const push_egress_t *g, const char *u)
{
    const char *why = push_egress_url_problem(pool, u, g);
    return why ? why : "ok";
}

static int contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

static void test_addresses(void)
{
    static const char *const internal[] = {
        "127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255",
        "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "100.127.255.255", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
        "::1", "::", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1",
        "::ffff:0:127.0.0.1", "::ffff:0:10.1.2.3",
        "::10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::1",
        "2002:c0a8:101::1", "fec0::1", NULL};
    static const char *const external[] = {
        "93.184.216.34", "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255",
        "100.128.0.1", "169.253.1.1", "11.0.0.1", "223.255.255.255", "2606:4700::1111",
        "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", NULL};
    char name[128];
    for (int i = 0; internal[i]; i++) {
        apr_snprintf(name, sizeof(name), "%s is refused", internal[i]);
        CHECK(refused(NULL, internal[i]), name);
    }
    for (int i = 0; external[i]; i++) {
        apr_snprintf(name, sizeof(name), "%s is allowed", external[i]);
        CHECK(!refused(NULL, external[i]), name);
    }
    CHECK(strcmp(conn(NULL, "127.0.0.1", 80), "loopback") == 0, "127.0.0.1 is named loopback");
    CHECK(strcmp(conn(NULL, "::ffff:192.168.0.1", 80), "private (RFC 1918)") == 0,
          "an IPv4-mapped address is named by its IPv4 class");
    CHECK(strcmp(conn(NULL, "169.254.169.254", 80), "link-local") == 0, "the metadata address is link-local");
    CHECK(strcmp(conn(NULL, "100.64.1.1", 80), "shared address space (CGNAT)") == 0, "CGNAT is named");
    CHECK(strcmp(conn(NULL, "fd00::1", 80), "unique local (ULA)") == 0, "ULA is named");
    {
        struct sockaddr sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_family = AF_UNIX;
        CHECK(contains(push_egress_addr_problem(&sa, NULL), "not an internet address"),
              "a unix socket is refused");
        CHECK(push_egress_addr_problem(NULL, NULL) != NULL, "no address is refused");
    }
}

static void test_allow_list(void)
{
    push_egress_t *g = push_egress_make(pool);
    CHECK(push_egress_allow(pool, g, "127.0.0.1:40073") == NULL, "127.0.0.1:40073 is a value");
    CHECK(push_egress_allow(pool, g, "10.0.0.0/8") == NULL, "10.0.0.0/8 is a value");
    CHECK(push_egress_allow(pool, g, "[::1]:8443") == NULL, "[::1]:8443 is a value");
    CHECK(push_egress_allow(pool, g, "fd00::/8") == NULL, "fd00::/8 is a value");
    CHECK(push_egress_allow(pool, g, "[fe80::/64]:9000") == NULL, "[fe80::/64]:9000 is a value");
    CHECK(push_egress_allow(pool, g, "[fec0::]/16:7000") == NULL, "[fec0::]/16:7000 is a value");
    CHECK(push_egress_allow(pool, g, "192.168.7.9/16:25") == NULL, "192.168.7.9/16:25 (host bits set) is a value");

    CHECK(strcmp(conn(g, "127.0.0.1", 40073), "ok") == 0, "127.0.0.1:40073 is exempt");
    CHECK(strcmp(conn(g, "127.0.0.1", 40074), "loopback") == 0, "another port of 127.0.0.1 is not");
    CHECK(strcmp(conn(g, "127.0.0.2", 40073), "loopback") == 0, "another loopback address is not");
    CHECK(strcmp(conn(g, "::ffff:127.0.0.1", 40073), "ok") == 0, "its IPv4-mapped form is exempt too");
    CHECK(strcmp(conn(g, "10.200.3.4", 1), "ok") == 0, "10.0.0.0/8 exempts every port of 10.200.3.4");
    CHECK(strcmp(conn(g, "::1", 8443), "ok") == 0, "[::1]:8443 is exempt");
    CHECK(strcmp(conn(g, "::1", 443), "loopback") == 0, "[::1]:443 is not");
    CHECK(strcmp(conn(g, "fd12::1", 443), "ok") == 0, "fd00::/8 covers fd12::1");
    CHECK(strcmp(conn(g, "fc00::1", 443), "unique local (ULA)") == 0, "but not fc00::1");
    CHECK(strcmp(conn(g, "fe80::1", 9000), "ok") == 0, "[fe80::/64]:9000 covers fe80::1 port 9000");
    CHECK(strcmp(conn(g, "fe80::1", 9001), "link-local") == 0, "not port 9001");
    CHECK(strcmp(conn(g, "fec0::5", 7000), "ok") == 0, "[fec0::]/16:7000 covers fec0::5 port 7000");
    CHECK(strcmp(conn(g, "192.168.200.1", 25), "ok") == 0, "192.168.7.9/16:25 covers 192.168.200.1:25");
    CHECK(strcmp(conn(g, "192.168.200.1", 26), "private (RFC 1918)") == 0, "not port 26");

    CHECK(contains(push_egress_allow(pool, g, "localhost"), "not an IPv4 or IPv6 address"), "a name is refused");
    CHECK(contains(push_egress_allow(pool, g, "10.0.0.0/33"), "not a prefix length from 0 to 32"), "/33");
    CHECK(contains(push_egress_allow(pool, g, "::/129"), "from 0 to 128"), "/129");
    CHECK(contains(push_egress_allow(pool, g, "10.0.0.0/x"), "not a prefix length"), "/x");
    CHECK(contains(push_egress_allow(pool, g, "127.0.0.1:0"), "not a port from 1 to 65535"), "port 0");
    CHECK(contains(push_egress_allow(pool, g, "127.0.0.1:65536"), "not a port"), "port 65536");
    CHECK(contains(push_egress_allow(pool, g, "127.0.0.1:"), "not a port"), "an empty port");
    CHECK(contains(push_egress_allow(pool, g, "[::1"), "must close with ']'"), "an unclosed bracket");
    CHECK(contains(push_egress_allow(pool, g, "[::1]x"), "only /PREFIX or :PORT"), "junk after ]");
    CHECK(contains(push_egress_allow(pool, g, "[10.0.0.1]:80"), "brackets are for IPv6"), "IPv4 in brackets");
    CHECK(contains(push_egress_allow(pool, g, "127.1"), "not an IPv4 or IPv6 address"), "a short IPv4 form");
}

static void test_urls(void)
{
    push_egress_t *g = push_egress_make(pool);
    static const char *const bad_hosts[] = {
        "http://127.0.0.1/", "http://127.0.0.1:5432/", "https://[::1]/", "http://[::1]:80/x",
        "http://localhost/", "http://LOCALHOST./", "http://foo.localhost/", "http://a.b.LocalHost/",
        "http://localhost.localdomain/", "http://2130706433/", "http://0x7f000001/", "http://0x7f.1/",
        "http://017700000001/", "http://0177.0.0.1/", "http://127.1/", "http://127.0.0.1./",
        "http://169.254.169.254/latest/meta-data/", "http://0/", "http://0.0.0.0:8080/",
        "http://10.0.0.1/", "http://192.168.0.1/", "http://172.16.0.1/", "http://100.64.0.1/",
        "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        "http://[::127.0.0.1]/", "http://[64:ff9b::127.0.0.1]/", "http://[fe80::1]/",
        "http://[fd00::1]/", "http://[ff02::1]/", "http://[::]/", "http://224.0.0.1/",
        "http://255.255.255.255/", "http://3232235777/", "http://0xa9fea9fe/", NULL};
    static const char *const good[] = {
        "https://hooks.example.net/push", "http://example.com:8080/a?b=c", "https://93.184.216.34/x",
        "https://[2606:4700::1111]/", "https://example.com./", "https://1e100.net/",
        "https://my-host_1.example.org/", "HTTPS://Example.COM/", "https://8.8.8.8:443/", NULL};
    char name[160];
    for (int i = 0; bad_hosts[i]; i++) {
        const char *why = url(g, bad_hosts[i]);
        apr_snprintf(name, sizeof(name), "%s is refused (%s)", bad_hosts[i], why);
        CHECK(contains(why, "refused address"), name);
    }
    for (int i = 0; good[i]; i++) {
        const char *why = url(g, good[i]);
        apr_snprintf(name, sizeof(name), "%s is accepted (%s)", good[i], why);
        CHECK(strcmp(why, "ok") == 0, name);
    }
    CHECK(contains(url(g, "http://user:pass@example.com/"), "credentials"), "user:pass@ is refused");
    CHECK(contains(url(g, "http://user@example.com/"), "credentials"), "user@ is refused");
    CHECK(contains(url(g, "http://@example.com/"), "credentials"), "an empty userinfo is refused");
    CHECK(contains(url(g, "http://example.com@127.0.0.1/"), "credentials"), "a host hidden behind @");
    CHECK(contains(url(g, "ftp://example.com/"), "scheme must be http or https"), "ftp");
    CHECK(contains(url(g, "file:///etc/passwd"), "scheme must be http or https"), "file");
    CHECK(contains(url(g, "gopher://example.com/"), "scheme"), "gopher");
    CHECK(contains(url(g, "example.com/hook"), "not a URL") || contains(url(g, "example.com/hook"), "scheme"),
          "no scheme");
    CHECK(contains(url(g, "http:///path"), "no host"), "no host");
    CHECK(contains(url(g, "http://exa mple.com/"), "space"), "a space");
    CHECK(contains(url(g, "http://example.com\\@127.0.0.1/"), "backslash"), "a backslash");
    CHECK(contains(url(g, "http://ｌｏｃａｌｈｏｓｔ/"), "ASCII"), "a fullwidth name (IDNA would make it localhost)");
    CHECK(contains(url(g, "http://ex%61mple.com/"), "character"), "a percent-encoded host");
    CHECK(contains(url(g, "http://[fe80::1%25eth0]/"), "not a valid IPv6"), "an IPv6 zone id");
    CHECK(contains(url(g, "http://999.1.1.1/"), "not a valid IPv4"), "an IPv4 form out of range");
    CHECK(contains(url(g, "http://a..b.com/"), "empty label"), "an empty label");
    CHECK(contains(url(g, "http://example.com:0/"), "port"), "port 0");
    CHECK(contains(url(g, "http://example.com:99999/"), "port"), "port 99999");
    CHECK(contains(url(g, ""), "empty"), "the empty string");
    CHECK(contains(url(g, NULL), "empty"), "NULL");

    CHECK(push_egress_allow(pool, g, "127.0.0.1:40073") == NULL && push_egress_allow(pool, g, "[::1]:8443") == NULL,
          "an allow list");
    CHECK(strcmp(url(g, "http://127.0.0.1:40073/hook/x"), "ok") == 0, "a listed address and port is accepted");
    CHECK(strcmp(url(g, "http://2130706433:40073/hook/x"), "ok") == 0, "also in another IPv4 form");
    CHECK(contains(url(g, "http://127.0.0.1:40074/"), "refused address: loopback"), "another port is not");
    CHECK(contains(url(g, "http://127.0.0.1/"), "refused address"), "nor the default port");
    CHECK(strcmp(url(g, "https://[::1]:8443/"), "ok") == 0, "[::1]:8443");
    CHECK(contains(url(g, "https://[::1]/"), "refused"), "[::1]:443 is not listed");
    CHECK(contains(url(g, "http://localhost:40073/"), "localhost"), "localhost stays refused: it is a name");
}

/* A listener on 127.0.0.1: curl through the guard must not connect, unless listed. */
static void test_curl(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1, flag = 0;
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    struct pollfd pfd;
    char u[64], spec[64];
    CURL *e;
    CURLcode rc;
    push_egress_t *g = push_egress_make(pool);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 4) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0) {
        CHECK(0, "a loopback listener");
        return;
    }
    apr_snprintf(u, sizeof(u), "http://127.0.0.1:%d/hook", ntohs(a.sin_port));

    e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 500L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    push_egress_attach(e, NULL, &flag);
    rc = curl_easy_perform(e);
    CHECK(rc != CURLE_OK, "the transfer to the loopback listener fails");
    CHECK(flag == 1, "and says the guard refused it");
    pfd.fd = l;
    pfd.events = POLLIN;
    CHECK(poll(&pfd, 1, 100) == 0, "nothing connected to the listener");
    curl_easy_cleanup(e);

    apr_snprintf(spec, sizeof(spec), "127.0.0.1:%d", ntohs(a.sin_port));
    CHECK(push_egress_allow(pool, g, spec) == NULL, "the listener's address and port listed");
    flag = 0;
    e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    push_egress_attach(e, g, &flag);
    rc = curl_easy_perform(e);
    CHECK(rc == CURLE_OPERATION_TIMEDOUT, "the listed listener is connected (and never answers)");
    CHECK(flag == 0, "the guard refused nothing");
    CHECK(poll(&pfd, 1, 100) == 1, "the listener saw the connection");
    curl_easy_cleanup(e);
    close(l);
}

/* A name with a refused and an allowed address: libcurl goes on to the allowed one. */
static void test_curl_two_addresses(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0), flag = 0;
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    struct pollfd pfd;
    struct curl_slist *resolve;
    char u[64], spec[64], entry[96];
    push_egress_t *g = push_egress_make(pool);
    CURL *e;
    CURLcode rc;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 4) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0) {
        printf("# no listener on 127.0.0.2 here: skipped\n");
        close(l);
        return;
    }
    apr_snprintf(spec, sizeof(spec), "127.0.0.2:%d", ntohs(a.sin_port));
    CHECK(push_egress_allow(pool, g, spec) == NULL, "127.0.0.2 and the listener's port listed");
    apr_snprintf(entry, sizeof(entry), "two.test:%d:127.0.0.1,127.0.0.2", ntohs(a.sin_port));
    apr_snprintf(u, sizeof(u), "http://two.test:%d/", ntohs(a.sin_port));
    resolve = curl_slist_append(NULL, entry);
    e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 500L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    push_egress_attach(e, g, &flag);
    rc = curl_easy_perform(e);
    CHECK(flag == 1, "the refused address (127.0.0.1) was refused");
    CHECK(rc == CURLE_OPERATION_TIMEDOUT, "and the allowed one connected (the listener never answers)");
    pfd.fd = l;
    pfd.events = POLLIN;
    CHECK(poll(&pfd, 1, 100) == 1, "the listener on 127.0.0.2 saw the connection");
    curl_easy_cleanup(e);
    curl_slist_free_all(resolve);

    flag = 0;
    e = curl_easy_init();
    resolve = curl_slist_append(NULL, entry);
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 500L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    push_egress_attach(e, NULL, &flag);
    rc = curl_easy_perform(e);
    CHECK(flag == 1 && rc == CURLE_ABORTED_BY_CALLBACK, "with nothing listed both are refused: CURLE_ABORTED_BY_CALLBACK");
    curl_easy_cleanup(e);
    curl_slist_free_all(resolve);
    close(l);
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_addresses();
    test_allow_list();
    test_urls();
    test_curl();
    test_curl_two_addresses();
    curl_global_cleanup();
    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
