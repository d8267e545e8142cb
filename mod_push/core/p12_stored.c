/* The stored form of an uploaded APNs certificate (core/p12.h): what the settings API
 * seals and what the sender and the apnsCert download open. */
#include "core/p12.h"

#include <apr_base64.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include <string.h>

const char *push_p12_stored(apr_pool_t *p, const unsigned char *der, size_t len, const char *password)
{
    char *b64 = apr_palloc(p, apr_base64_encode_len((int)len));
    json_object *o = json_object_new_object();
    const char *text;
    apr_base64_encode_binary(b64, der, (int)len);
    json_object_object_add(o, "p12", json_object_new_string(b64));
    json_object_object_add(o, "password", json_object_new_string(password ? password : ""));
    text = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return text;
}

int push_p12_stored_read(apr_pool_t *p, const char *text, unsigned char **der, size_t *len,
                         const char **password)
{
    json_object *o = text ? json_tokener_parse(text) : NULL, *v;
    const char *b64 = NULL;
    int ok = 0;
    *password = NULL;
    if (o && json_object_object_get_ex(o, "p12", &v) && json_object_is_type(v, json_type_string))
        b64 = json_object_get_string(v);
    if (b64) {
        *der = apr_palloc(p, apr_base64_decode_len(b64));
        *len = (size_t)apr_base64_decode_binary(*der, b64);
        if (json_object_object_get_ex(o, "password", &v) && json_object_is_type(v, json_type_string))
            *password = apr_pstrdup(p, json_object_get_string(v));
        ok = 1;
    }
    json_object_put(o);
    return ok;
}
