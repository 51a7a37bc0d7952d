/* SPDX-License-Identifier: MIT */
/* Contract enforcement: requests checked against the Swagger file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"
#include "scsim.h"

#define SCSIM_SWAGGER_MAX ((size_t)32 * 1024 * 1024)
#define SCSIM_SCHEMA_DEPTH 32
#define SCSIM_SEG_MAX 16

struct scsim_swagger {
    cJSON *root;
    const cJSON *defs;
    struct scsim_op *ops;
    size_t n_ops;
};

static const char *const scsim_methods[] = { "get", "put", "post",
                                             "delete", "patch" };

static enum scb_err scsim_read_file(const char *path, char **out,
                                    size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long len;

    if (!f)
        return SCB_ENOTFOUND;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        (size_t)len > SCSIM_SWAGGER_MAX || fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    data = mem_malloc((size_t)len + 1);
    if (!data || fread(data, 1, (size_t)len, f) != (size_t)len)
        goto fail;
    data[len] = '\0';
    fclose(f);
    *out = data;
    *out_len = (size_t)len;
    return SCB_OK;
fail:
    mem_free(data);
    fclose(f);
    return SCB_EIO;
}

static void scsim_add_op(struct scsim_swagger *sw, const char *tmpl,
                         const char *method, const cJSON *op)
{
    struct scsim_op *o = &sw->ops[sw->n_ops++];
    const char *summary = jsonio_str_or(op, "summary", "");
    size_t i;

    for (i = 0; i < 7 && method[i]; i++)
        o->key[i] = (char)toupper((unsigned char)method[i]);
    o->key[i] = '\0';
    o->tmpl = tmpl;
    o->op = op;
    o->obsolete = strstr(summary, "[obsolete]") != NULL;
    (void)snprintf(o->key + i, sizeof(o->key) - i, " %s", tmpl);
}

enum scb_err scsim_swagger_load(const char *path,
                                struct scsim_swagger **out_sw)
{
    struct scsim_swagger *sw;
    const cJSON *paths, *p, *op;
    char *text = NULL;
    size_t len = 0, n = 0;
    enum scb_err err;

    err = scsim_read_file(path, &text, &len);
    if (err)
        return err;
    sw = mem_calloc(1, sizeof(*sw));
    if (!sw) {
        mem_free(text);
        return SCB_ENOMEM;
    }
    err = jsonio_parse(text, len, SCSIM_SWAGGER_MAX, &sw->root);
    mem_free(text);
    if (err)
        goto fail;
    paths = cJSON_GetObjectItemCaseSensitive(sw->root, "paths");
    sw->defs = cJSON_GetObjectItemCaseSensitive(sw->root, "definitions");
    err = SCB_EPARSE;
    if (!cJSON_IsObject(paths) || !cJSON_IsObject(sw->defs))
        goto fail;
    cJSON_ArrayForEach(p, paths) n += (size_t)cJSON_GetArraySize(p);
    err = SCB_ENOMEM;
    sw->ops = mem_calloc(n + 1, sizeof(*sw->ops));
    if (!sw->ops)
        goto fail;
    cJSON_ArrayForEach(p, paths) {
        for (size_t m = 0; m < 5; m++) {
            op = cJSON_GetObjectItemCaseSensitive(p, scsim_methods[m]);
            if (cJSON_IsObject(op) && sw->n_ops < n)
                scsim_add_op(sw, p->string, scsim_methods[m], op);
        }
    }
    *out_sw = sw;
    return SCB_OK;
fail:
    scsim_swagger_free(sw);
    return err;
}

void scsim_swagger_free(struct scsim_swagger *sw)
{
    if (!sw)
        return;
    cJSON_Delete(sw->root);
    mem_free(sw->ops);
    mem_free(sw);
}

/*
 * Compares a request path with a template segment by segment. Returns
 * the number of literal segments matched, or -1 when it does not match.
 */
static int scsim_path_match(const char *tmpl, const char *path)
{
    int literals = 0;

    while (*tmpl && *path) {
        const char *te = strchr(tmpl + 1, '/');
        const char *pe = strchr(path + 1, '/');
        size_t tl = te ? (size_t)(te - tmpl) : strlen(tmpl);
        size_t pl = pe ? (size_t)(pe - path) : strlen(path);

        if (tmpl[1] == '{') {
            if (pl < 2)
                return -1;
        } else if (tl != pl || memcmp(tmpl, path, tl) != 0) {
            return -1;
        } else {
            literals++;
        }
        tmpl += tl;
        path += pl;
    }
    return (*tmpl || *path) ? -1 : literals;
}

static const cJSON *scsim_param(const cJSON *op, const char *in,
                                const char *name)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(op, "parameters");
    const cJSON *pa;

    cJSON_ArrayForEach(pa, params) {
        if (strcmp(jsonio_str_or(pa, "in", ""), in) == 0 &&
            (!name || strcmp(jsonio_str_or(pa, "name", ""), name) == 0))
            return pa;
    }
    return NULL;
}

static bool scsim_is_int(const char *v)
{
    char *end;
    long long n;

    if (!v || !*v)
        return false;
    errno = 0;
    n = strtoll(v, &end, 10);
    return !*end && errno == 0 && n >= INT32_MIN && n <= INT32_MAX;
}

/* Path parameters typed integer must be integers. */
static bool scsim_check_path_params(const struct scsim_op *op,
                                    const char *path, char *why, size_t n)
{
    const char *t = op->tmpl;
    char name[64], val[256];

    while (*t && *path) {
        size_t tl = strcspn(t + 1, "/") + 1;
        size_t pl = strcspn(path + 1, "/") + 1;

        if (t[1] == '{' && tl - 3 < sizeof(name) && pl - 1 < sizeof(val)) {
            const cJSON *pa;

            memcpy(name, t + 2, tl - 3);
            name[tl - 3] = '\0';
            memcpy(val, path + 1, pl - 1);
            val[pl - 1] = '\0';
            pa = scsim_param(op->op, "path", name);
            if (strcmp(jsonio_str_or(pa, "type", ""), "integer") == 0 &&
                !scsim_is_int(val)) {
                (void)snprintf(why, n, "path parameter %s is not an integer",
                               name);
                return false;
            }
        }
        t += tl;
        path += pl;
    }
    return true;
}

const struct scsim_op *scsim_swagger_match(const struct scsim_swagger *sw,
                                           const char *method,
                                           const char *path, char *why,
                                           size_t why_len)
{
    const struct scsim_op *best = NULL;
    bool path_known = false;
    int best_lit = -1;

    for (size_t i = 0; i < sw->n_ops; i++) {
        const struct scsim_op *o = &sw->ops[i];
        size_t ml = strcspn(o->key, " ");
        int lit = scsim_path_match(o->tmpl, path);

        if (lit < 0)
            continue;
        path_known = true;
        if (strlen(method) != ml || strncmp(o->key, method, ml) != 0)
            continue;
        if (lit > best_lit) {
            best = o;
            best_lit = lit;
        }
    }
    if (!best) {
        (void)snprintf(why, why_len, "%s", path_known
                       ? "method not defined for this path"
                       : "unknown path");
        return NULL;
    }
    if (!scsim_check_path_params(best, path, why, why_len))
        return NULL;
    return best;
}

/* State for walking the query arguments of one request. */
struct scsim_qwalk {
    const cJSON *op;
    char *why;
    size_t why_len;
    bool bad;
    const char *seen[64];
    unsigned counts[64];
    size_t n_seen;
};

static bool scsim_query_value_ok(const cJSON *pa, const char *v)
{
    const char *type = jsonio_str_or(pa, "type", "");
    const cJSON *items;

    if (strcmp(type, "array") == 0) {
        items = cJSON_GetObjectItemCaseSensitive(pa, "items");
        type = jsonio_str_or(items, "type", "string");
    }
    if (strcmp(type, "integer") == 0)
        return scsim_is_int(v);
    if (strcmp(type, "boolean") == 0)
        return v && (strcasecmp(v, "true") == 0 ||
                     strcasecmp(v, "false") == 0);
    if (strcmp(type, "number") == 0) {
        char *end;

        if (!v || !*v)
            return false;
        (void)strtod(v, &end);
        return !*end;
    }
    return true;
}

static unsigned *scsim_qcount(struct scsim_qwalk *w, const char *key)
{
    for (size_t i = 0; i < w->n_seen; i++) {
        if (strcmp(w->seen[i], key) == 0)
            return &w->counts[i];
    }
    if (w->n_seen == 64)
        return NULL;
    w->seen[w->n_seen] = key;
    w->counts[w->n_seen] = 0;
    return &w->counts[w->n_seen++];
}

static enum MHD_Result scsim_qiter(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    struct scsim_qwalk *w = cls;
    const cJSON *pa = scsim_param(w->op, "query", key);
    unsigned *cnt;

    (void)kind;
    if (!pa) {
        (void)snprintf(w->why, w->why_len,
                       "query parameter %.64s is not defined", key);
        goto bad;
    }
    cnt = scsim_qcount(w, key);
    if (!cnt || (++*cnt > 1 &&
                 strcmp(jsonio_str_or(pa, "collectionFormat", ""),
                        "multi") != 0)) {
        (void)snprintf(w->why, w->why_len,
                       "query parameter %.64s is repeated", key);
        goto bad;
    }
    if (!scsim_query_value_ok(pa, value)) {
        (void)snprintf(w->why, w->why_len,
                       "query parameter %.64s has a value of the wrong type",
                       key);
        goto bad;
    }
    return MHD_YES;
bad:
    w->bad = true;
    return MHD_NO;
}

bool scsim_swagger_check_query(const struct scsim_swagger *sw,
                               const struct scsim_op *op,
                               struct MHD_Connection *conn, char *why,
                               size_t why_len)
{
    struct scsim_qwalk w;
    const cJSON *pa;

    (void)sw;
    memset(&w, 0, sizeof(w));
    w.op = op->op;
    w.why = why;
    w.why_len = why_len;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, scsim_qiter, &w);
    if (w.bad)
        return false;
    cJSON_ArrayForEach(pa, cJSON_GetObjectItemCaseSensitive(op->op,
                                                           "parameters")) {
        const char *name = jsonio_str_or(pa, "name", "");

        if (strcmp(jsonio_str_or(pa, "in", ""), "query") != 0 ||
            !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pa, "required")))
            continue;
        if (!MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name)) {
            (void)snprintf(why, why_len,
                           "required query parameter %.64s is missing", name);
            return false;
        }
    }
    return true;
}

static const cJSON *scsim_resolve(const struct scsim_swagger *sw,
                                  const cJSON *schema)
{
    const char *ref = jsonio_str_or(schema, "$ref", NULL);
    const char *prefix = "#/definitions/";

    if (!ref)
        return schema;
    if (strncmp(ref, prefix, strlen(prefix)) != 0)
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(sw->defs, ref + strlen(prefix));
}

static bool scsim_check(const struct scsim_swagger *sw, const cJSON *schema,
                        const cJSON *v, const char *where, int depth,
                        char *why, size_t n);

static bool scsim_bad(char *why, size_t n, const char *where,
                      const char *what)
{
    (void)snprintf(why, n, "%s: %s", where[0] ? where : "body", what);
    return false;
}

static bool scsim_check_int(const cJSON *schema, const cJSON *v,
                            const char *where, char *why, size_t n)
{
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    const cJSON *e;
    double d = v->valuedouble;
    bool int32 = strcmp(jsonio_str_or(schema, "format", ""), "int32") == 0;

    if (d != (double)(long long)d)
        return scsim_bad(why, n, where, "expected an integer");
    if (int32 && (d < INT32_MIN || d > INT32_MAX))
        return scsim_bad(why, n, where, "outside int32");
    e = cJSON_GetObjectItemCaseSensitive(schema, "minimum");
    if (cJSON_IsNumber(e) && d < e->valuedouble)
        return scsim_bad(why, n, where, "below the minimum");
    e = cJSON_GetObjectItemCaseSensitive(schema, "maximum");
    if (cJSON_IsNumber(e) && d > e->valuedouble)
        return scsim_bad(why, n, where, "above the maximum");
    if (!cJSON_IsArray(en))
        return true;
    cJSON_ArrayForEach(e, en) {
        if (cJSON_IsNumber(e) && e->valuedouble == d)
            return true;
    }
    return scsim_bad(why, n, where, "not one of the enum values");
}

static bool scsim_check_object(const struct scsim_swagger *sw,
                               const cJSON *schema, const cJSON *v,
                               const char *where, int depth, char *why,
                               size_t n)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema,
                                                          "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *c;
    char sub[256];

    if (!props)
        return true; /* a bare "object" takes any JSON value, as .NET does */
    if (!cJSON_IsObject(v))
        return scsim_bad(why, n, where, "expected an object");
    cJSON_ArrayForEach(c, v) {
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, c->string);

        (void)snprintf(sub, sizeof(sub), "%s%s%.64s", where,
                       where[0] ? "." : "", c->string);
        if (!ps)
            return scsim_bad(why, n, sub, "field not defined");
        if (!scsim_check(sw, ps, c, sub, depth + 1, why, n))
            return false;
    }
    cJSON_ArrayForEach(c, req) {
        const cJSON *f;

        if (!cJSON_IsString(c))
            continue;
        f = cJSON_GetObjectItemCaseSensitive(v, c->valuestring);
        (void)snprintf(sub, sizeof(sub), "%s%s%.64s", where,
                       where[0] ? "." : "", c->valuestring);
        if (!f || cJSON_IsNull(f))
            return scsim_bad(why, n, sub, "required field missing");
    }
    return true;
}

static bool scsim_check(const struct scsim_swagger *sw, const cJSON *schema,
                        const cJSON *v, const char *where, int depth,
                        char *why, size_t n)
{
    const char *type;
    const cJSON *it;
    char sub[256];
    int i = 0;

    schema = scsim_resolve(sw, schema);
    if (!schema || depth > SCSIM_SCHEMA_DEPTH)
        return scsim_bad(why, n, where, "schema not understood");
    if (cJSON_IsNull(v))
        return true;
    type = jsonio_str_or(schema, "type", "");
    if (!type[0] && cJSON_GetObjectItemCaseSensitive(schema, "properties"))
        type = "object";
    if (strcmp(type, "object") == 0)
        return scsim_check_object(sw, schema, v, where, depth, why, n);
    if (strcmp(type, "array") == 0) {
        if (!cJSON_IsArray(v))
            return scsim_bad(why, n, where, "expected an array");
        cJSON_ArrayForEach(it, v) {
            (void)snprintf(sub, sizeof(sub), "%s[%d]", where, i++);
            if (!scsim_check(sw, cJSON_GetObjectItemCaseSensitive(schema,
                                                                  "items"),
                             it, sub, depth + 1, why, n))
                return false;
        }
        return true;
    }
    if (strcmp(type, "string") == 0)
        return cJSON_IsString(v) ||
               scsim_bad(why, n, where, "expected a string");
    if (strcmp(type, "boolean") == 0)
        return cJSON_IsBool(v) ||
               scsim_bad(why, n, where, "expected a boolean");
    if (strcmp(type, "number") == 0)
        return cJSON_IsNumber(v) ||
               scsim_bad(why, n, where, "expected a number");
    if (strcmp(type, "integer") == 0)
        return cJSON_IsNumber(v) ? scsim_check_int(schema, v, where, why, n)
                                 : scsim_bad(why, n, where,
                                             "expected an integer");
    return true;
}

bool scsim_swagger_check_body(const struct scsim_swagger *sw,
                              const struct scsim_op *op, const char *body,
                              size_t len, cJSON **out_body, char *why,
                              size_t why_len)
{
    const cJSON *pa = scsim_param(op->op, "body", NULL);
    cJSON *doc = NULL;

    if (!pa) {
        if (len > 0)
            return scsim_bad(why, why_len, "", "this operation takes none");
        *out_body = NULL;
        return true;
    }
    if (len == 0) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pa, "required")))
            return scsim_bad(why, why_len, "", "required body missing");
        *out_body = NULL;
        return true;
    }
    if (jsonio_parse(body, len, SCSIM_CTL_BODY_MAX, &doc))
        return scsim_bad(why, why_len, "", "not valid JSON");
    if (!scsim_check(sw, cJSON_GetObjectItemCaseSensitive(pa, "schema"), doc,
                     "", 0, why, why_len)) {
        cJSON_Delete(doc);
        return false;
    }
    *out_body = doc;
    return true;
}

bool scsim_swagger_check_def(const struct scsim_swagger *sw,
                             const char *def, const cJSON *v, char *why,
                             size_t why_len)
{
    const cJSON *d;
    size_t dl = strlen(def);

    cJSON_ArrayForEach(d, sw->defs) {
        size_t l = strlen(d->string);

        if (strcmp(d->string, def) == 0 ||
            (l > dl && d->string[l - dl - 1] == '.' &&
             strcmp(d->string + l - dl, def) == 0))
            return scsim_check(sw, d, v, "", 0, why, why_len);
    }
    (void)snprintf(why, why_len, "no definition %s", def);
    return false;
}
