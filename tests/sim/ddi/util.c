/* SPDX-License-Identifier: MIT */
/* DDI simulator helpers: times, amounts, cursors and JSON answers. */
#include "ddisim.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "jsonio.h"
#include "mem.h"
#include "money.h"

#define DDISIM_CURSOR_MAX 64

void ddisim_fmt_time(int64_t ms, char out[DDISIM_TIME_MAX])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&secs, &tm);
    n = strftime(out, DDISIM_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, DDISIM_TIME_MAX - n, ".%03dZ", (int)(ms % 1000));
}

/* Reads exactly 'n' digits at *p into *out; advances *p. */
static bool ddisim_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool ddisim_expect(const char **p, const char *set)
{
    if (**p == '\0' || !strchr(set, **p))
        return false;
    (*p)++;
    return true;
}

/* Reads "Z", "z" or "+HH:MM" / "-HH:MM" as seconds east of UTC. */
static bool ddisim_parse_zone(const char *p, int64_t *out_s)
{
    int hh, mm, sign;

    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *out_s = 0;
        return true;
    }
    if (*p != '+' && *p != '-')
        return false;
    sign = *p == '-' ? -1 : 1;
    p++;
    if (!ddisim_digits(&p, 2, &hh) || !ddisim_expect(&p, ":") ||
        !ddisim_digits(&p, 2, &mm) || *p != '\0' || hh > 23 || mm > 59)
        return false;
    *out_s = sign * (hh * 3600 + mm * 60);
    return true;
}

bool ddisim_parse_time(const char *s, int64_t *out_ms)
{
    const char *p = s;
    struct tm tm;
    int y, mo, dd, h, mi, se, frac = 0, fdig = 0;
    int64_t zone;

    memset(&tm, 0, sizeof(tm));
    if (!ddisim_digits(&p, 4, &y) || !ddisim_expect(&p, "-") ||
        !ddisim_digits(&p, 2, &mo) || !ddisim_expect(&p, "-") ||
        !ddisim_digits(&p, 2, &dd) || !ddisim_expect(&p, "Tt") ||
        !ddisim_digits(&p, 2, &h) || !ddisim_expect(&p, ":") ||
        !ddisim_digits(&p, 2, &mi) || !ddisim_expect(&p, ":") ||
        !ddisim_digits(&p, 2, &se))
        return false;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdig++) {
            if (fdig < 3)
                frac = frac * 10 + (*p - '0');
        }
        if (fdig == 0)
            return false;
        for (int i = fdig; i < 3; i++)
            frac *= 10;
    }
    if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 ||
        se > 60 || !ddisim_parse_zone(p, &zone))
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = dd;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *out_ms = ((int64_t)timegm(&tm) - zone) * 1000 + frac;
    return true;
}

bool ddisim_is_date(const char *s)
{
    const char *p = s;
    int y, m, d;

    return ddisim_digits(&p, 4, &y) && ddisim_expect(&p, "-") &&
           ddisim_digits(&p, 2, &m) && ddisim_expect(&p, "-") &&
           ddisim_digits(&p, 2, &d) && *p == '\0' && m >= 1 && m <= 12 &&
           d >= 1 && d <= 31;
}

/* The form scbridge must send: ^-?[0-9]{1,13}\.[0-9]{2}$. */
bool ddisim_amount_ok(const char *s, int64_t *out_cents)
{
    size_t len = strlen(s);
    size_t start = s[0] == '-' ? 1 : 0;

    if (len < start + 4 || len > start + 16 || s[len - 3] != '.')
        return false;
    for (size_t i = start; i < len; i++) {
        if (i != len - 3 && (s[i] < '0' || s[i] > '9'))
            return false;
    }
    return money_parse(s, out_cents) == SCB_OK;
}

cJSON *ddisim_money(int64_t cents)
{
    char text[MONEY_STR_MAX];

    money_format(cents, text);
    return cJSON_CreateString(text);
}

cJSON *ddisim_error(const char *code, const char *field, int64_t line_no,
                    const char *message)
{
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "code", code);
    if (field)
        cJSON_AddStringToObject(e, "field", field);
    if (line_no > 0)
        cJSON_AddNumberToObject(e, "line_no", (double)line_no);
    cJSON_AddStringToObject(e, "message", message);
    return e;
}

/* Answers 'doc' (deleted here); OOM becomes a bare 500. */
void ddisim_reply_json(struct simhttp_resp *resp, int status, cJSON *doc)
{
    char *text = doc ? jsonio_print(doc) : NULL;

    cJSON_Delete(doc);
    mem_free(resp->body);
    resp->body = text;
    resp->status = text ? status : 500;
}

void ddisim_reply_error(struct simhttp_resp *resp, int status, const char *code,
                        const char *field, const char *message)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(doc, "errors");

    cJSON_AddItemToArray(list, ddisim_error(code, field, 0, message));
    ddisim_reply_json(resp, status, doc);
}

/* base64url without padding of "<kind>:<pos>", so it needs no escaping. */
char *ddisim_cursor_make(const char *kind, size_t pos)
{
    char plain[DDISIM_CURSOR_MAX];
    unsigned char enc[DDISIM_CURSOR_MAX * 2];
    int n = snprintf(plain, sizeof(plain), "%s:%zu", kind, pos);
    int len;

    if (n < 0 || (size_t)n >= sizeof(plain))
        return NULL;
    len = EVP_EncodeBlock(enc, (const unsigned char *)plain, n);
    while (len > 0 && enc[len - 1] == '=')
        len--;
    for (int i = 0; i < len; i++) {
        if (enc[i] == '+')
            enc[i] = '-';
        else if (enc[i] == '/')
            enc[i] = '_';
    }
    return mem_strndup((const char *)enc, (size_t)len);
}

bool ddisim_cursor_parse(const char *kind, const char *cursor, size_t *out_pos)
{
    unsigned char enc[DDISIM_CURSOR_MAX * 2];
    unsigned char plain[DDISIM_CURSOR_MAX * 2];
    size_t len = strlen(cursor);
    size_t klen = strlen(kind);
    unsigned long long pos = 0;
    int n;

    if (len == 0 || len > DDISIM_CURSOR_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        enc[i] = cursor[i] == '-' ? '+' : cursor[i] == '_' ? '/' : cursor[i];
    while (len % 4)
        enc[len++] = '=';
    n = EVP_DecodeBlock(plain, enc, (int)len);
    if (n < 0)
        return false;
    for (size_t i = len; i > 0 && enc[i - 1] == '='; i--)
        n--;
    if ((size_t)n <= klen + 1 || memcmp(plain, kind, klen) != 0 ||
        plain[klen] != ':')
        return false;
    if (plain[klen + 1] == '0' && (size_t)n > klen + 2)
        return false; /* only the canonical form was handed out */
    for (size_t i = klen + 1; i < (size_t)n; i++) {
        if (plain[i] < '0' || plain[i] > '9' || pos > 1000000000ull)
            return false;
        pos = pos * 10 + (plain[i] - '0');
    }
    *out_pos = (size_t)pos;
    return true;
}

/* Puts 'item' under 'key', replacing what was there. */
void ddisim_json_set(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (!cJSON_AddItemToObject(obj, key, item))
        cJSON_Delete(item);
}

const char *ddisim_query(const struct simhttp_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}
