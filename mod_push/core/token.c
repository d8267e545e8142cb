#include "token.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/hex.h"

char *push_token_new(apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes == 0 || nbytes > sizeof(buf) || RAND_bytes(buf, (int)nbytes) != 1)
        return NULL;
    return push_hex(p, buf, nbytes);
}

char *push_token_hash(apr_pool_t *p, const char *secret, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(secret, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return NULL;
    return push_hex(p, md, mdlen);
}

char *push_token_meteor_id(apr_pool_t *p)
{
    static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
    const unsigned int n = sizeof(alphabet) - 1; /* 55 */
    char *out = apr_palloc(p, 18);
    int filled = 0;
    while (filled < 17) {
        unsigned char buf[32];
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return NULL;
        /* rejection sampling keeps every letter equally likely */
        for (size_t i = 0; i < sizeof(buf) && filled < 17; i++)
            if (buf[i] < 256 - 256 % n)
                out[filled++] = alphabet[buf[i] % n];
    }
    out[17] = '\0';
    return out;
}
