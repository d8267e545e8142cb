#include "filter.h"
#include "validate.h"

#include <apr_strings.h>
#include <string.h>

#define OPERATORS "== (equals) or =@ (contains)"

static int ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* Characters clients put in operators of other filter syntaxes (!=, <=, =~, ...): after a
 * field name they read as a wrong operator rather than as a stray character. */
static int op_char(char c)
{
    return c != '\0' && strchr("=!<>~", c) != NULL;
}

static const push_filter_field_t *find_field(const push_filter_field_t *fields,
                                             const char *name)
{
    for (const push_filter_field_t *f = fields; f && f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static const char *unknown_field(apr_pool_t *p, const push_filter_field_t *fields,
                                 const char *name)
{
    const char *list = NULL;
    for (const push_filter_field_t *f = fields; f && f->name; f++)
        list = list ? apr_pstrcat(p, list, ", ", f->name, NULL) : f->name;
    if (!list)
        return apr_psprintf(p, "filter field \"%s\" is unknown; this list cannot be filtered",
                            name);
    return apr_psprintf(p, "filter field \"%s\" is unknown; the fields are: %s", name, list);
}

/* Splits and unescapes the value. Each alternative is at most as long as its raw text
 * and the commas become NULs, so one buffer of vlen + 1 bytes holds them all. The raw
 * value was checked as UTF-8 first: dropping an ASCII backslash or cutting at an ASCII
 * comma never splits a multi-byte sequence, so every alternative stays valid. */
static const char *split_values(apr_pool_t *p, const char *name, const char *v,
                                apr_size_t vlen, apr_size_t at, apr_array_header_t **out)
{
    apr_array_header_t *values = apr_array_make(p, 4, sizeof(const char *));
    char *buf = apr_palloc(p, vlen + 1), *w = buf, *start = buf;
    apr_size_t k = 0;

    for (;;) {
        if (k == vlen || v[k] == ',') {
            if (w == start)
                return apr_psprintf(p, "alternative %d of the filter value for \"%s\" is "
                                    "empty; write a literal comma as \\,",
                                    values->nelts + 1, name);
            if (values->nelts == PUSH_FILTER_MAX_VALUES)
                return apr_psprintf(p, "filter value for \"%s\" has more than %d "
                                    "alternatives", name, PUSH_FILTER_MAX_VALUES);
            *w++ = '\0';
            APR_ARRAY_PUSH(values, const char *) = start;
            start = w;
            if (k == vlen)
                break;
            k++;
            continue;
        }
        if (v[k] == '\\') {
            if (k + 1 == vlen)
                return apr_psprintf(p, "filter value for \"%s\" ends with a lone backslash; "
                                    "write a literal backslash as \\\\", name);
            if (v[k + 1] != ',' && v[k + 1] != '\\')
                return apr_psprintf(p, "filter value for \"%s\" has an unknown escape at "
                                    "position %" APR_SIZE_T_FMT "; only \\, (comma) and "
                                    "\\\\ (backslash) may follow a backslash",
                                    name, at + k + 1);
            k++;
        }
        *w++ = v[k++];
    }
    *out = values;
    return NULL;
}

const char *push_filter_parse(apr_pool_t *p, const char *in, apr_size_t len,
                              const push_filter_field_t *fields, push_filter_clause_t **out)
{
    push_filter_clause_t *c;
    const push_filter_field_t *f;
    push_filter_op_t op;
    apr_array_header_t *values = NULL;
    const char *name, *v, *err;
    apr_size_t i = 0, vlen;

    while (i < len && ident_char(in[i]))
        i++;
    /* Checked before anything quotes the name, so that a message stays short. */
    if (i > PUSH_FILTER_MAX_FIELD)
        return apr_psprintf(p, "filter field name is longer than %d characters",
                            PUSH_FILTER_MAX_FIELD);
    if (len == 0)
        return "filter is empty; write <field>==<value> or <field>=@<value>";
    if (i == len)
        return apr_psprintf(p, "filter \"%s\" has no operator; use " OPERATORS,
                            apr_pstrmemdup(p, in, i));
    if (!op_char(in[i]))
        return apr_psprintf(p, "filter has an unexpected character at position %"
                            APR_SIZE_T_FMT "; a field name is letters, digits and '_', "
                            "followed by " OPERATORS, i + 1);
    if (i == 0)
        return "filter has no field name before its operator";
    name = apr_pstrmemdup(p, in, i);

    if (len - i >= 2 && in[i] == '=' && in[i + 1] == '=') {
        op = PUSH_FILTER_EQ;
    } else if (len - i >= 2 && in[i] == '=' && in[i + 1] == '@') {
        op = PUSH_FILTER_CONTAINS;
    } else {
        /* Quoting is safe: the operator is one or two characters of "=!<>~@". */
        int n = (len - i >= 2 && (op_char(in[i + 1]) || in[i + 1] == '@')) ? 2 : 1;
        return apr_psprintf(p, "filter \"%s\" has an unknown operator \"%.*s\"; use "
                            OPERATORS, name, n, in + i);
    }

    f = find_field(fields, name);
    if (!f)
        return unknown_field(p, fields, name);
    if (f->eq_only && op != PUSH_FILTER_EQ)
        return apr_psprintf(p, "filter field \"%s\" allows only == (exact match), not %s",
                            name, push_filter_op_name(op));

    v = in + i + 2;
    vlen = len - i - 2;
    if (vlen == 0)
        return apr_psprintf(p, "filter \"%s%s\" has no value", name, push_filter_op_name(op));
    if (vlen > PUSH_FILTER_MAX_VALUE)
        return apr_psprintf(p, "filter value for \"%s\" is longer than %d bytes", name,
                            PUSH_FILTER_MAX_VALUE);
    if (memchr(v, '\0', vlen))
        return apr_psprintf(p, "filter value for \"%s\" contains a NUL byte", name);
    if (!push_valid_utf8(v, vlen))
        return apr_psprintf(p, "filter value for \"%s\" is not valid UTF-8", name);
    if ((err = split_values(p, name, v, vlen, i + 2, &values)) != NULL)
        return err;

    c = apr_palloc(p, sizeof(*c));
    c->field = f->name;
    c->op = op;
    c->values = values;
    *out = c;
    return NULL;
}

int push_filter_matches(const push_filter_clause_t *c, const char *value)
{
    if (!value)
        return 0;
    for (int i = 0; i < c->values->nelts; i++) {
        const char *want = APR_ARRAY_IDX(c->values, i, const char *);
        if (c->op == PUSH_FILTER_EQ ? strcmp(value, want) == 0 : strstr(value, want) != NULL)
            return 1;
    }
    return 0;
}

const char *push_filter_op_name(push_filter_op_t op)
{
    return op == PUSH_FILTER_CONTAINS ? "=@" : "==";
}

const char *push_filter_format(apr_pool_t *p, const push_filter_clause_t *c)
{
    apr_size_t size = strlen(c->field) + 3;
    char *out, *w;

    /* Worst case every byte is escaped, plus one comma per value. */
    for (int i = 0; i < c->values->nelts; i++)
        size += 2 * strlen(APR_ARRAY_IDX(c->values, i, const char *)) + 1;
    out = apr_palloc(p, size);
    w = out;
    w += strlen(strcpy(w, c->field));
    w += strlen(strcpy(w, push_filter_op_name(c->op)));
    for (int i = 0; i < c->values->nelts; i++) {
        if (i)
            *w++ = ',';
        for (const char *s = APR_ARRAY_IDX(c->values, i, const char *); *s; s++) {
            if (*s == ',' || *s == '\\')
                *w++ = '\\';
            *w++ = *s;
        }
    }
    *w = '\0';
    return out;
}
