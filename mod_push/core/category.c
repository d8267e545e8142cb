#include "category.h"

#include <apr_strings.h>
#include <string.h>

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int seen(const apr_array_header_t *names, const char *name)
{
    for (int i = 0; i < names->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(names, i, const char *), name) == 0)
            return 1;
    return 0;
}

const char *push_category_parse(apr_pool_t *p, const char *in, apr_size_t len,
                                push_category_filter_t **out)
{
    push_category_filter_t *f = apr_pcalloc(p, sizeof(*f));
    apr_size_t i = 0;

    if (memchr(in, '\0', len))
        return "category_filter contains a NUL byte";
    while (len > 0 && is_space(in[len - 1]))
        len--;
    while (i < len && is_space(in[i]))
        i++;
    if (i == len)
        return "category_filter is empty; use * for every category";
    if (len - i == 1 && in[i] == '*') {
        f->all = 1;
        *out = f;
        return NULL;
    }
    if (in[i] == '-') {
        f->exclude = 1;
        i++;
    }
    f->names = apr_array_make(p, 4, sizeof(const char *));
    for (;;) {
        apr_size_t start, end;
        const char *name;
        while (i < len && is_space(in[i]))
            i++;
        start = i;
        while (i < len && name_char(in[i]))
            i++;
        end = i;
        while (i < len && is_space(in[i]))
            i++;
        if (end == start)
            return apr_psprintf(p, "category_filter has an empty or invalid name at position %"
                                APR_SIZE_T_FMT "; names are letters, digits, '_' and '.'",
                                start + 1);
        if (end - start > PUSH_CATEGORY_MAX_NAME)
            return apr_psprintf(p, "category_filter names are at most %d characters",
                                PUSH_CATEGORY_MAX_NAME);
        name = apr_pstrmemdup(p, in + start, end - start);
        if (!seen(f->names, name)) {
            if (f->names->nelts == PUSH_CATEGORY_MAX_ITEMS)
                return apr_psprintf(p, "category_filter lists more than %d categories",
                                    PUSH_CATEGORY_MAX_ITEMS);
            APR_ARRAY_PUSH(f->names, const char *) = name;
        }
        if (i == len)
            break;
        if (in[i] != ',')
            return apr_psprintf(p, "category_filter: unexpected character at position %"
                                APR_SIZE_T_FMT "; names are letters, digits, '_' and '.', "
                                "separated by commas", i + 1);
        i++;
    }
    *out = f;
    return NULL;
}

const char *push_category_canonical(apr_pool_t *p, const push_category_filter_t *f)
{
    if (f->all)
        return "*";
    return apr_pstrcat(p, f->exclude ? "-" : "", apr_array_pstrcat(p, f->names, ','), NULL);
}

const char *push_category_pg_array(apr_pool_t *p, const push_category_filter_t *f)
{
    if (f->all)
        return "{}";
    return apr_pstrcat(p, "{", apr_array_pstrcat(p, f->names, ','), "}", NULL);
}

int push_category_allows(const push_category_filter_t *f, const char *category)
{
    if (!category || f->all)
        return 1;
    return seen(f->names, category) ? !f->exclude : f->exclude;
}
