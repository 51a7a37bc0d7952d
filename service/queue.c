/* SPDX-License-Identifier: MIT */
/* The job queue on Redis Streams: enqueue, take, finish, sweep, dead. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "jsonio.h"
#include "mem.h"
#include "queue.h"

#define QUEUE_MARKER_TTL_S 604800 /* a coalescing marker outlives its job */
#define QUEUE_SWEEP_BATCH 100     /* jobs moved by one sweep, each kind */
#define QUEUE_STACK_ARGS 32

/* Key names under the store's prefix. */
struct qkeys {
    char stream[96];
    char delayed[96];
    char data[96];
    char dead[96];
    char seq[96];
    char marker[96];  /* prefix of coalescing markers */
    char deadkey[96]; /* prefix of the dead-letter index */
};

struct queue_job {
    struct store *st;         /* borrowed: the taking thread's */
    const struct config *cfg; /* borrowed */
    char entry_id[QUEUE_ID_MAX];
    char consumer[QUEUE_CONSUMER_MAX];
    char id[QUEUE_ID_MAX];
    char *type;
    char *key;
    char *payload;
    char *last_error;
    cJSON *json; /* NULL when the payload is not JSON */
    int64_t accepted_ms;
    int64_t waited_ms;
    int64_t attempts; /* spent before this try */
    bool foreign;
    int64_t wait_ms;
    char error[QUEUE_TEXT_MAX];
    char reason[QUEUE_TEXT_MAX];
};

/* ---- Lua ------------------------------------------------------------ */

/*
 * Helpers the scripts share, each script taking those it needs (a C
 * string literal may not pass 4095 bytes). A marker "s:<entry>" names a
 * stream entry, "d:<job id>" a delayed job.
 */
#define LUA_CORE                                                           \
    "local function now_ms()\n"                                            \
    "  local t = redis.call('TIME')\n"                                     \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "end\n"                                                                \
    "local function num(x) return string.format('%.0f', x) end\n"          \
    "local function field(f, name)\n"                                      \
    "  for i = 1, #f - 1, 2 do\n"                                          \
    "    if f[i] == name then return f[i + 1] end\n"                       \
    "  end\n"                                                              \
    "  return nil\n"                                                       \
    "end\n"                                                                \
    "local function setfield(f, name, value)\n"                            \
    "  for i = 1, #f - 1, 2 do\n"                                          \
    "    if f[i] == name then f[i + 1] = value return end\n"               \
    "  end\n"                                                              \
    "  f[#f + 1] = name\n"                                                 \
    "  f[#f + 1] = value\n"                                                \
    "end\n"

/* The marker of a job's fields; moving a marker only if it names 'from'. */
#define LUA_MARK                                                     \
    "local function marker(prefix, f)\n"                             \
    "  local k = field(f, 'key')\n"                                  \
    "  if not k or k == '' then return nil end\n"                    \
    "  return prefix .. (field(f, 'type') or '') .. ':' .. k\n"      \
    "end\n"                                                          \
    "local function remark(mk, from, to, ttl)\n"                     \
    "  if not mk or redis.call('GET', mk) ~= from then return end\n" \
    "  if to then redis.call('SET', mk, to, 'EX', ttl)\n"            \
    "  else redis.call('DEL', mk) end\n"                             \
    "end\n"

/* The consumer whose pending list holds entry 'id', or nil. */
#define LUA_OWNER                                                       \
    "local function owner(stream, group, id)\n"                         \
    "  local p = redis.pcall('XPENDING', stream, group, id, id, 1)\n"   \
    "  if type(p) ~= 'table' or p.err or #p == 0 then return nil end\n" \
    "  return p[1][2]\n"                                                \
    "end\n"

/*
 * Whether the job marker 'm' names still waits to be taken: a stream
 * entry that exists and is in no pending list, or a delayed job (which
 * an earlier run_at pulls forward).
 */
#define LUA_WAITING                                               \
    "local function waiting(stream, zset, group, m, run_at)\n"    \
    "  local kind, ref = string.sub(m, 1, 1), string.sub(m, 3)\n" \
    "  if kind == 's' then\n"                                     \
    "    if #redis.call('XRANGE', stream, ref, ref) == 0 then\n"  \
    "      return false\n"                                        \
    "    end\n"                                                   \
    "    return owner(stream, group, ref) == nil\n"               \
    "  end\n"                                                     \
    "  if kind ~= 'd' then return false end\n"                    \
    "  local s = redis.call('ZSCORE', zset, ref)\n"               \
    "  if not s then return false end\n"                          \
    "  if run_at < tonumber(s) then\n"                            \
    "    redis.call('ZADD', zset, 'XX', 'LT', run_at, ref)\n"     \
    "  end\n"                                                     \
    "  return true\n"                                             \
    "end\n"

/* Adds a job to the stream, or to the delayed set; answers its marker. */
#define LUA_ADD                                                     \
    "local function add_job(stream, zset, data, f, run_at, now)\n"  \
    "  if run_at > now then\n"                                      \
    "    local id = field(f, 'id')\n"                               \
    "    redis.call('HSET', data, id, cjson.encode(f))\n"           \
    "    redis.call('ZADD', zset, run_at, id)\n"                    \
    "    return 'd:' .. id\n"                                       \
    "  end\n"                                                       \
    "  return 's:' .. redis.call('XADD', stream, '*', unpack(f))\n" \
    "end\n"

/* Adds a dead letter; a key keeps one letter, the newest. */
#define LUA_DEAD                                                        \
    "local function dead_add(dead, dkp, f, now, keep)\n"                \
    "  local minid = num(math.max(0, now - keep)) .. '-0'\n"            \
    "  local id = redis.call('XADD', dead, 'MINID', '~', minid, '*',\n" \
    "                        unpack(f))\n"                              \
    "  local k = field(f, 'key')\n"                                     \
    "  if k and k ~= '' then\n"                                         \
    "    local old = redis.call('GET', dkp .. k)\n"                     \
    "    if old then redis.call('XDEL', dead, old) end\n"               \
    "    redis.call('SET', dkp .. k, id, 'PX', keep)\n"                 \
    "  end\n"                                                           \
    "  return id\n"                                                     \
    "end\n"

/*
 * KEYS stream, delayed, data, seq [, dedupe]. ARGV group, marker prefix,
 * marker ttl, dedupe ttl, n, then type, key, payload, accepted, run_at
 * per job. The dedupe key is checked first and set last.
 */
static const struct store_script queue_lua_enqueue = {
    "queue_enqueue",
    LUA_CORE LUA_OWNER LUA_WAITING LUA_ADD
    "if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then\n"
    "  return {-1}\n"
    "end\n"
    "local now = now_ms()\n"
    "local out = {}\n"
    "for i = 1, tonumber(ARGV[5]) do\n"
    "  local b = 6 + (i - 1) * 5\n"
    "  local ty, k = ARGV[b], ARGV[b + 1]\n"
    "  local acc, at = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])\n"
    "  if acc <= 0 then acc = now end\n"
    "  local mk = nil\n"
    "  if k ~= '' then mk = ARGV[2] .. ty .. ':' .. k end\n"
    "  local m = mk and redis.call('GET', mk)\n"
    "  if m and waiting(KEYS[1], KEYS[2], ARGV[1], m, math.max(at, now))\n"
    "  then\n"
    "    out[i] = 0\n"
    "  else\n"
    "    local f = {'v', '" QUEUE_SCHEMA "',\n"
    "      'id', num(redis.call('INCR', KEYS[4])), 'type', ty, 'key', k,\n"
    "      'payload', ARGV[b + 2], 'accepted', num(acc),\n"
    "      'attempts', '0', 'waited', '0'}\n"
    "    local ref = add_job(KEYS[1], KEYS[2], KEYS[3], f, at, now)\n"
    "    if mk then redis.call('SET', mk, ref, 'EX', ARGV[3]) end\n"
    "    out[i] = 1\n"
    "  end\n"
    "end\n"
    "if KEYS[5] then redis.call('SET', KEYS[5], '1', 'EX', ARGV[4]) end\n"
    "return out\n",
};

/*
 * KEYS stream, delayed, data, dead. ARGV group, consumer, entry id,
 * action (ack, delay, dead, release), marker key or '', job id, delay
 * ms, fields (JSON array), retention ms, marker ttl, dead key prefix.
 * Nothing happens unless 'consumer' still owns the entry: a worker whose
 * lease ran out cannot acknowledge, nor overwrite the new owner's work.
 */
static const struct store_script queue_lua_finish = {
    "queue_finish",
    LUA_CORE LUA_MARK LUA_OWNER LUA_DEAD
    "if owner(KEYS[1], ARGV[1], ARGV[3]) ~= ARGV[2] then return 0 end\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])\n"
    "redis.call('XDEL', KEYS[1], ARGV[3])\n"
    "local mk = nil\n"
    "if ARGV[5] ~= '' then mk = ARGV[5] end\n"
    "local from, a = 's:' .. ARGV[3], ARGV[4]\n"
    "if a == 'delay' then\n"
    "  redis.call('HSET', KEYS[3], ARGV[6], ARGV[8])\n"
    "  redis.call('ZADD', KEYS[2], now_ms() + tonumber(ARGV[7]), ARGV[6])\n"
    "  remark(mk, from, 'd:' .. ARGV[6], ARGV[10])\n"
    "elseif a == 'release' then\n"
    "  local id = redis.call('XADD', KEYS[1], '*',\n"
    "                        unpack(cjson.decode(ARGV[8])))\n"
    "  remark(mk, from, 's:' .. id, ARGV[10])\n"
    "elseif a == 'dead' then\n"
    "  local f, now = cjson.decode(ARGV[8]), now_ms()\n"
    "  setfield(f, 'failed_at', num(now))\n"
    "  dead_add(KEYS[4], ARGV[11], f, now, tonumber(ARGV[9]))\n"
    "  remark(mk, from, nil)\n"
    "else\n"
    "  remark(mk, from, nil)\n"
    "end\n"
    "return 1\n",
};

/*
 * KEYS stream, delayed, data, dead. ARGV group, consumer, lease ms, max
 * attempts, batch, marker prefix, marker ttl, retention ms, dead key
 * prefix. Taken-back jobs become new entries, so that any worker reads
 * them with '>'; the sweeping consumer holds none past this script. A
 * job of another schema goes back as it was, spending nothing.
 */
static const struct store_script queue_lua_sweep = {
    "queue_sweep",
    LUA_CORE LUA_MARK LUA_DEAD
    "local now, batch = now_ms(), tonumber(ARGV[5])\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now,\n"
    "                       'LIMIT', 0, batch)\n"
    "for _, id in ipairs(due) do\n"
    "  local env = redis.call('HGET', KEYS[3], id)\n"
    "  redis.call('ZREM', KEYS[2], id)\n"
    "  redis.call('HDEL', KEYS[3], id)\n"
    "  if env then\n"
    "    local f = cjson.decode(env)\n"
    "    local e = redis.call('XADD', KEYS[1], '*', unpack(f))\n"
    "    remark(marker(ARGV[6], f), 'd:' .. id, 's:' .. e, ARGV[7])\n"
    "  end\n"
    "end\n"
    "local back, dead, more = 0, 0, #due >= batch\n"
    "local r = redis.pcall('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2],\n"
    "                      ARGV[3], '0-0', 'COUNT', batch)\n"
    "if type(r) ~= 'table' or r.err then r = {'0-0', {}} end\n"
    "if #r[2] >= batch then more = true end\n"
    "for _, e in ipairs(r[2]) do\n"
    "  local id, f = e[1], e[2]\n"
    "  redis.call('XACK', KEYS[1], ARGV[1], id)\n"
    "  if f then\n"
    "    redis.call('XDEL', KEYS[1], id)\n"
    "    back = back + 1\n"
    "    local mk, to = marker(ARGV[6], f), nil\n"
    "    local n = (tonumber(field(f, 'attempts')) or 0) + 1\n"
    "    if field(f, 'v') ~= '" QUEUE_SCHEMA "' then\n"
    "      to = 's:' .. redis.call('XADD', KEYS[1], '*', unpack(f))\n"
    "    elseif n >= tonumber(ARGV[4]) then\n"
    "      setfield(f, 'attempts', num(n))\n"
    "      setfield(f, 'reason', 'LEASE_EXPIRED: no worker finished it '\n"
    "               .. 'in ' .. n .. ' attempts')\n"
    "      setfield(f, 'failed_at', num(now))\n"
    "      dead_add(KEYS[4], ARGV[9], f, now, tonumber(ARGV[8]))\n"
    "      dead = dead + 1\n"
    "    else\n"
    "      setfield(f, 'attempts', num(n))\n"
    "      to = 's:' .. redis.call('XADD', KEYS[1], '*', unpack(f))\n"
    "    end\n"
    "    remark(mk, 's:' .. id, to, ARGV[7])\n"
    "  end\n"
    "end\n"
    "local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
    "local nd = -1\n"
    "if first[2] then nd = math.max(0, tonumber(first[2]) - now) end\n"
    "return {#due, back, dead, nd, more and 1 or 0}\n",
};

/*
 * KEYS stream, dead. ARGV group, retention ms. Trims dead letters past
 * retention and drops consumers idle an hour with nothing pending (those
 * of replicas that are gone).
 */
static const struct store_script queue_lua_house = {
    "queue_housekeep",
    LUA_CORE
    "local keep = num(math.max(0, now_ms() - tonumber(ARGV[2]))) .. '-0'\n"
    "redis.call('XTRIM', KEYS[2], 'MINID', '~', keep)\n"
    "local cs = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])\n"
    "if type(cs) ~= 'table' or cs.err then return 0 end\n"
    "local n = 0\n"
    "for _, c in ipairs(cs) do\n"
    "  if field(c, 'pending') == 0 and (field(c, 'idle') or 0) > 3600000\n"
    "  then\n"
    "    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1],\n"
    "               field(c, 'name'))\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n",
};

/* KEYS stream. ARGV group, then consumer and entry id pairs. */
static const struct store_script queue_lua_renew = {
    "queue_renew",
    LUA_OWNER
    "local n = 0\n"
    "for i = 2, #ARGV - 1, 2 do\n"
    "  if owner(KEYS[1], ARGV[1], ARGV[i + 1]) == ARGV[i] then\n"
    "    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[i], 0, ARGV[i + 1],\n"
    "               'JUSTID')\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n",
};

/* KEYS stream. ARGV group, consumer. */
static const struct store_script queue_lua_drop = {
    "queue_consumer_drop",
    "local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', 1,\n"
    "                      ARGV[2])\n"
    "if type(p) ~= 'table' or p.err or #p > 0 then return 0 end\n"
    "return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], "
    "ARGV[2])\n",
};

/* KEYS stream, delayed, dead. ARGV group, lease ms. */
static const struct store_script queue_lua_stats = {
    "queue_stats",
    LUA_CORE
    "local len, pend, stale, age = redis.call('XLEN', KEYS[1]), 0, 0, -1\n"
    "local s = redis.pcall('XPENDING', KEYS[1], ARGV[1])\n"
    "if type(s) == 'table' and not s.err then\n"
    "  pend = s[1]\n"
    "  if pend > 0 then\n"
    "    stale = #redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE',\n"
    "                        ARGV[2], '-', '+', 1000)\n"
    "  end\n"
    "end\n"
    "local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)\n"
    "if first[1] then\n"
    "  age = now_ms() - tonumber(string.match(first[1][1], '^(%d+)'))\n"
    "end\n"
    "return {len - pend, pend, redis.call('ZCARD', KEYS[2]),\n"
    "        redis.call('XLEN', KEYS[3]), math.max(0, pend - stale), age}\n",
};

/*
 * KEYS stream, delayed, data, dead. ARGV action (retry or discard),
 * dead id or '' (then by key), key, group, marker prefix, marker ttl,
 * dead key prefix. Answers {0} unknown, {-1} foreign, {1, id, fields}.
 */
static const struct store_script queue_lua_dead = {
    "queue_dead",
    LUA_CORE LUA_MARK LUA_OWNER LUA_WAITING LUA_ADD
    "local id = ARGV[2]\n"
    "if id == '' then\n"
    "  id = redis.call('GET', ARGV[7] .. ARGV[3])\n"
    "  if not id then return {0} end\n"
    "end\n"
    "local e = redis.call('XRANGE', KEYS[4], id, id)\n"
    "if #e == 0 then return {0} end\n"
    "local f = e[1][2]\n"
    "if ARGV[1] == 'retry' and field(f, 'v') ~= '" QUEUE_SCHEMA "' then\n"
    "  return {-1}\n"
    "end\n"
    "redis.call('XDEL', KEYS[4], id)\n"
    "local k = field(f, 'key') or ''\n"
    "if k ~= '' and redis.call('GET', ARGV[7] .. k) == id then\n"
    "  redis.call('DEL', ARGV[7] .. k)\n"
    "end\n"
    "if ARGV[1] == 'retry' then\n"
    "  local now = now_ms()\n"
    "  local nf = {'v', '" QUEUE_SCHEMA "', 'id', field(f, 'id') or '',\n"
    "    'type', field(f, 'type') or '', 'key', k,\n"
    "    'payload', field(f, 'payload') or '',\n"
    "    'accepted', field(f, 'accepted') or num(now),\n"
    "    'attempts', '0', 'waited', '0'}\n"
    "  local mk = marker(ARGV[5], nf)\n"
    "  local m = mk and redis.call('GET', mk)\n"
    "  if not (m and waiting(KEYS[1], KEYS[2], ARGV[4], m, now)) then\n"
    "    local ref = add_job(KEYS[1], KEYS[2], KEYS[3], nf, 0, now)\n"
    "    if mk then redis.call('SET', mk, ref, 'EX', ARGV[6]) end\n"
    "  end\n"
    "end\n"
    "return {1, id, f}\n",
};

/* ---- argument vectors ------------------------------------------------ */

/* An argument list for store_eval(); the first failure sticks. */
struct args {
    const char **v;
    size_t *len;
    char **owned; /* copies made by args_i64(), freed on release */
    int n;
    int cap;
    enum scb_err err;
};

static void args_init(struct args *a, int cap)
{
    memset(a, 0, sizeof(*a));
    a->v = mem_calloc((size_t)cap, sizeof(*a->v));
    a->len = mem_calloc((size_t)cap, sizeof(*a->len));
    a->owned = mem_calloc((size_t)cap, sizeof(*a->owned));
    a->cap = cap;
    if (!a->v || !a->len || !a->owned)
        a->err = SCB_ENOMEM;
}

static void args_release(struct args *a)
{
    for (int i = 0; a->owned && i < a->n; i++)
        mem_free(a->owned[i]);
    mem_free(a->v);
    mem_free(a->len);
    mem_free(a->owned);
    memset(a, 0, sizeof(*a));
}

static void args_addn(struct args *a, const char *s, size_t len)
{
    if (a->err)
        return;
    if (a->n >= a->cap) {
        a->err = SCB_EINVAL;
        return;
    }
    a->v[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

static void args_add(struct args *a, const char *s)
{
    args_addn(a, s, strlen(s));
}

static void args_i64(struct args *a, int64_t v)
{
    char tmp[24];
    char *copy;

    if (a->err)
        return;
    snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    copy = mem_strdup(tmp);
    if (!copy) {
        a->err = SCB_ENOMEM;
        return;
    }
    args_add(a, copy);
    if (a->err)
        mem_free(copy);
    else
        a->owned[a->n - 1] = copy;
}

static enum scb_err args_eval(struct args *a, struct store *st,
                              const struct store_script *script, int nkeys,
                              redisReply **out_reply)
{
    if (a->err)
        return a->err;
    return store_eval(st, script, out_reply, nkeys, a->n, a->v, a->len);
}

/* ---- small helpers ---------------------------------------------------- */

static void qkeys_init(struct qkeys *k, const struct store *st)
{
    const char *p = store_prefix(st);

    memset(k, 0, sizeof(*k));
    snprintf(k->stream, sizeof(k->stream), "%sjobs", p);
    snprintf(k->delayed, sizeof(k->delayed), "%sjobs:delayed", p);
    snprintf(k->data, sizeof(k->data), "%sjobs:delayed:data", p);
    snprintf(k->dead, sizeof(k->dead), "%sjobs:dead", p);
    snprintf(k->seq, sizeof(k->seq), "%sjobs:seq", p);
    snprintf(k->marker, sizeof(k->marker), "%sjobs:co:", p);
    snprintf(k->deadkey, sizeof(k->deadkey), "%sjobs:dead:key:", p);
}

static bool parse_i64(const char *s, int64_t *out_v)
{
    char *end = NULL;
    long long v;

    if (!s || !*s)
        return false;
    v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out_v = v;
    return true;
}

/* A stream id "<ms>-<seq>": each part 1..19 digits, so Redis takes it. */
static bool queue_id_valid(const char *id)
{
    size_t i = 0, digits = 0;

    if (!id || strlen(id) >= QUEUE_ID_MAX)
        return false;
    for (; id[i] >= '0' && id[i] <= '9'; i++)
        digits++;
    if (!digits || digits > 19 || id[i] != '-')
        return false;
    for (digits = 0, i++; id[i] >= '0' && id[i] <= '9'; i++)
        digits++;
    return digits && digits <= 19 && !id[i];
}

/* Printable ASCII from 'lo' up, 1..max bytes, without 'ban'. */
static bool queue_text_ok(const char *s, size_t max, char lo, char ban)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        if (s[n] < lo || s[n] > '~' || s[n] == ban || n >= max)
            return false;
    }
    return n > 0;
}

static bool queue_new_job_ok(const struct queue_new_job *j)
{
    if (!queue_text_ok(j->type, QUEUE_TYPE_MAX, '!', ':'))
        return false;
    if (j->key && *j->key && !queue_text_ok(j->key, QUEUE_KEY_MAX, ' ', 0))
        return false;
    if (!j->payload || strlen(j->payload) > QUEUE_PAYLOAD_MAX)
        return false;
    return j->accepted_ms >= 0 && j->run_at_ms >= 0;
}

/* The value of field 'name' in a flat [name, value, ...] reply. */
static const redisReply *reply_field(const redisReply *f, const char *name)
{
    if (!f || f->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i];

        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return f->element[i + 1];
    }
    return NULL;
}

static const char *reply_str(const redisReply *f, const char *name)
{
    const redisReply *v = reply_field(f, name);

    return v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
}

static int64_t reply_i64(const redisReply *f, const char *name, int64_t dflt)
{
    int64_t v;

    return parse_i64(reply_str(f, name), &v) ? v : dflt;
}

static int64_t reply_int_at(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_INTEGER)
        return 0;
    return r->element[i]->integer;
}

/* ---- enqueue ---------------------------------------------------------- */

static void args_job(struct args *a, const struct queue_new_job *j)
{
    args_add(a, j->type);
    args_add(a, j->key ? j->key : "");
    args_add(a, j->payload);
    args_i64(a, j->accepted_ms);
    args_i64(a, j->run_at_ms);
}

static enum scb_err enqueue_args(struct args *a, const struct qkeys *k,
                                 const struct queue_new_job *jobs, size_t n,
                                 const char *dedupe_key, int64_t ttl_s)
{
    args_init(a, 10 + 5 * (int)n);
    args_add(a, k->stream);
    args_add(a, k->delayed);
    args_add(a, k->data);
    args_add(a, k->seq);
    if (dedupe_key)
        args_add(a, dedupe_key);
    args_add(a, QUEUE_GROUP);
    args_add(a, k->marker);
    args_i64(a, QUEUE_MARKER_TTL_S);
    args_i64(a, ttl_s);
    args_i64(a, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        args_job(a, &jobs[i]);
    return a->err;
}

static enum scb_err enqueue_result(const redisReply *r, size_t n,
                                   bool *out_duplicate,
                                   enum queue_added *out_each)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return SCB_ESTORECMD;
    if (r->elements == 1 && reply_int_at(r, 0) == -1) {
        *out_duplicate = true;
        return SCB_OK;
    }
    if (r->elements != n)
        return SCB_ESTORECMD;
    for (size_t i = 0; out_each && i < n; i++)
        out_each[i] = reply_int_at(r, i) ? QUEUE_ADDED : QUEUE_COALESCED;
    *out_duplicate = false;
    return SCB_OK;
}

enum scb_err queue_enqueue_batch(struct store *st,
                                 const struct queue_new_job *jobs, size_t n,
                                 const char *dedupe_key, int64_t dedupe_ttl_s,
                                 bool *out_duplicate,
                                 enum queue_added *out_each)
{
    struct qkeys k;
    struct args a;
    redisReply *r = NULL;
    enum scb_err err;

    if (n > QUEUE_BATCH_MAX || (n && !jobs) ||
        (dedupe_key && (!*dedupe_key || dedupe_ttl_s <= 0)))
        return SCB_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!queue_new_job_ok(&jobs[i]))
            return SCB_EINVAL;
    }
    qkeys_init(&k, st);
    err = enqueue_args(&a, &k, jobs, n, dedupe_key, dedupe_ttl_s);
    if (!err)
        err = args_eval(&a, st, &queue_lua_enqueue, dedupe_key ? 5 : 4, &r);
    args_release(&a);
    if (err)
        return err;
    err = enqueue_result(r, n, out_duplicate, out_each);
    freeReplyObject(r);
    return err;
}

enum scb_err queue_enqueue(struct store *st, const struct queue_new_job *job,
                           enum queue_added *out_added)
{
    enum queue_added added = QUEUE_ADDED;
    bool dup = false;
    enum scb_err err;

    err = queue_enqueue_batch(st, job, 1, NULL, 0, &dup, &added);
    if (!err)
        *out_added = added;
    return err;
}

/* ---- jobs ------------------------------------------------------------- */

const char *queue_job_id(const struct queue_job *job)
{
    return job->id;
}

const char *queue_job_entry_id(const struct queue_job *job)
{
    return job->entry_id;
}

const char *queue_job_type(const struct queue_job *job)
{
    return job->type;
}

const char *queue_job_key(const struct queue_job *job)
{
    return job->key;
}

const char *queue_job_payload(const struct queue_job *job)
{
    return job->payload;
}

const cJSON *queue_job_json(const struct queue_job *job)
{
    return job->json;
}

int queue_job_attempt(const struct queue_job *job)
{
    return (int)job->attempts + 1;
}

int64_t queue_job_accepted_ms(const struct queue_job *job)
{
    return job->accepted_ms;
}

int64_t queue_job_waited_ms(const struct queue_job *job)
{
    return job->waited_ms;
}

const char *queue_job_last_error(const struct queue_job *job)
{
    return job->last_error;
}

const char *queue_job_error(const struct queue_job *job)
{
    return job->error[0] ? job->error : job->last_error;
}

struct store *queue_job_store(const struct queue_job *job)
{
    return job->st;
}

bool queue_job_foreign(const struct queue_job *job)
{
    return job->foreign;
}

void queue_job_set_error(struct queue_job *job, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(job->error, sizeof(job->error), fmt, ap);
    va_end(ap);
}

void queue_job_set_reason(struct queue_job *job, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(job->reason, sizeof(job->reason), fmt, ap);
    va_end(ap);
}

void queue_job_set_wait(struct queue_job *job, int64_t wait_ms)
{
    job->wait_ms = wait_ms;
}

void queue_job_free(struct queue_job *job)
{
    if (!job)
        return;
    mem_free(job->type);
    mem_free(job->key);
    mem_free(job->payload);
    mem_free(job->last_error);
    cJSON_Delete(job->json);
    mem_free(job);
}

static char *dup_or_empty(const char *s)
{
    return mem_strdup(s ? s : "");
}

/* Copies an entry's fields into 'job'; SCB_EPARSE for a bad v1 entry. */
static enum scb_err job_fill(struct queue_job *job, const redisReply *f)
{
    const char *v = reply_str(f, "v");
    const char *payload = reply_str(f, "payload");

    job->type = dup_or_empty(reply_str(f, "type"));
    job->key = dup_or_empty(reply_str(f, "key"));
    job->payload = dup_or_empty(payload);
    job->last_error = dup_or_empty(reply_str(f, "error"));
    if (!job->type || !job->key || !job->payload || !job->last_error)
        return SCB_ENOMEM;
    snprintf(job->id, sizeof(job->id), "%s",
             reply_str(f, "id") ? reply_str(f, "id") : "");
    if (!v || strcmp(v, QUEUE_SCHEMA) != 0) {
        job->foreign = true;
        return SCB_OK;
    }
    job->accepted_ms = reply_i64(f, "accepted", 0);
    job->attempts = reply_i64(f, "attempts", 0);
    job->waited_ms = reply_i64(f, "waited", 0);
    if (!job->id[0] || !job->type[0] || !payload)
        return SCB_EPARSE;
    if (jsonio_parse(payload, strlen(payload), QUEUE_PAYLOAD_MAX, &job->json) ==
        SCB_ENOMEM)
        return SCB_ENOMEM;
    return SCB_OK;
}

/* The one entry of an XREADGROUP answer: [[stream, [[id, fields]]]]. */
static const redisReply *take_entry(const redisReply *r)
{
    const redisReply *s, *entries, *e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return NULL;
    s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements < 2)
        return NULL;
    entries = s->element[1];
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements < 1)
        return NULL;
    e = entries->element[0];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return NULL;
    return e;
}

static enum scb_err take_read(struct store *st, const char *stream,
                              const char *consumer, int block_ms,
                              redisReply **out_reply)
{
    enum scb_err err;

    if (block_ms > 0) {
        store_set_timeout_ms(st, block_ms + 5000);
        err = store_cmd(st, out_reply,
                        "XREADGROUP GROUP %s %s COUNT 1 BLOCK %d "
                        "STREAMS %s >",
                        QUEUE_GROUP, consumer, block_ms, stream);
    } else {
        err = store_cmd(st, out_reply,
                        "XREADGROUP GROUP %s %s COUNT 1 STREAMS %s >",
                        QUEUE_GROUP, consumer, stream);
    }
    if (err == SCB_ESTORECMD && strncmp(store_errstr(st), "NOGROUP", 7) == 0) {
        /* Redis lost the group (or never had it): make it, read again. */
        err = queue_group_ensure(st);
        if (!err)
            err = take_read(st, stream, consumer, 0, out_reply);
    }
    return err;
}

static enum scb_err job_new(struct store *st, const struct config *cfg,
                            const char *consumer, const redisReply *e,
                            struct queue_job **out_job)
{
    struct queue_job *job = mem_calloc(1, sizeof(*job));
    enum scb_err err;

    if (!job)
        return SCB_ENOMEM;
    job->st = st;
    job->cfg = cfg;
    snprintf(job->entry_id, sizeof(job->entry_id), "%s", e->element[0]->str);
    snprintf(job->consumer, sizeof(job->consumer), "%s", consumer);
    err = job_fill(job, e->element[1]);
    if (err == SCB_EPARSE) {
        /* A v1 entry without its fields cannot run: dead-letter it. */
        queue_job_set_reason(job, "MALFORMED_JOB: entry %s lacks fields",
                             job->entry_id);
        err = queue_finish(job, QUEUE_DEAD, &(struct queue_finished){ 0 });
        if (!err)
            err = SCB_ENOTFOUND;
    }
    if (err)
        queue_job_free(job);
    else
        *out_job = job;
    return err;
}

enum scb_err queue_take(struct store *st, const struct config *cfg,
                        const char *consumer, int block_ms,
                        struct queue_job **out_job)
{
    struct qkeys k;
    redisReply *r = NULL;
    const redisReply *e;
    enum scb_err err;

    if (!queue_text_ok(consumer, QUEUE_CONSUMER_MAX - 1, '!', 0))
        return SCB_EINVAL;
    qkeys_init(&k, st);
    err = take_read(st, k.stream, consumer, block_ms, &r);
    if (err)
        return err;
    e = take_entry(r);
    err = e ? job_new(st, cfg, consumer, e, out_job) : SCB_ENOTFOUND;
    freeReplyObject(r);
    return err;
}

enum scb_err queue_group_ensure(struct store *st)
{
    struct qkeys k;
    redisReply *r = NULL;
    enum scb_err err;

    qkeys_init(&k, st);
    err = store_cmd(st, &r, "XGROUP CREATE %s %s 0 MKSTREAM", k.stream,
                    QUEUE_GROUP);
    if (err == SCB_ESTORECMD && strncmp(store_errstr(st), "BUSYGROUP", 9) == 0)
        return SCB_OK;
    if (!err)
        freeReplyObject(r);
    return err;
}

/* ---- finishing ------------------------------------------------------- */

int64_t queue_backoff_ms(const struct config *cfg, int attempt, uint32_t rnd)
{
    int64_t cap = cfg->backoff_cap_s * 1000;
    int64_t d = cfg->backoff_base_s * 1000;
    int64_t jitter;

    for (int i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    jitter = d / 4;
    return d - (jitter ? (int64_t)(rnd % (uint64_t)(jitter + 1)) : 0);
}

static uint32_t queue_random(void)
{
    uint32_t r = 0;
    struct timespec ts;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec;
}

/* What a finish writes. */
struct finish_plan {
    const char *action; /* ack, delay, dead, release */
    enum queue_outcome applied;
    int64_t delay_ms;
    int64_t attempts; /* recorded with the job */
    int64_t waited_ms;
    const char *reason;
    char reason_buf[QUEUE_TEXT_MAX];
};

static void plan_retry(const struct queue_job *job, struct finish_plan *p)
{
    p->attempts = job->attempts + 1;
    if (p->attempts >= job->cfg->job_max_attempts) {
        snprintf(p->reason_buf, sizeof(p->reason_buf),
                 "ATTEMPTS_EXHAUSTED: failed %lld attempts",
                 (long long)p->attempts);
        p->reason = p->reason_buf;
        p->action = "dead";
        p->applied = QUEUE_DEAD;
        return;
    }
    p->action = "delay";
    p->applied = QUEUE_RETRY;
    p->delay_ms = queue_backoff_ms(job->cfg, (int)p->attempts, queue_random());
}

static void plan_finish(const struct queue_job *job, enum queue_outcome outcome,
                        struct finish_plan *p)
{
    int64_t wait = job->wait_ms > 0 ? job->wait_ms : 1000;

    memset(p, 0, sizeof(*p));
    p->attempts = job->attempts;
    p->waited_ms = job->waited_ms;
    p->action = "ack";
    p->applied = QUEUE_DONE;
    if (outcome == QUEUE_WAIT &&
        job->waited_ms + wait <= job->cfg->max_wait_s * 1000) {
        p->action = "delay";
        p->applied = QUEUE_WAIT;
        p->delay_ms = wait;
        p->waited_ms += wait;
    } else if (outcome == QUEUE_WAIT || outcome == QUEUE_RETRY) {
        /* A wait past SCBRIDGE_MAX_WAIT counts as transient. */
        plan_retry(job, p);
    } else if (outcome == QUEUE_DEAD) {
        p->attempts = job->attempts + 1;
        p->action = "dead";
        p->applied = QUEUE_DEAD;
        if (job->reason[0]) {
            p->reason = job->reason;
        } else {
            snprintf(p->reason_buf, sizeof(p->reason_buf), "FAILED: %.400s",
                     job->error[0] ? job->error : "no reason given");
            p->reason = p->reason_buf;
        }
    }
}

static enum scb_err put_pair(struct buf *b, const char *name, const char *v)
{
    enum scb_err err = buf_putc(b, b->len > 1 ? ',' : ' ');

    if (!err)
        err = buf_put_json_str(b, name);
    if (!err)
        err = buf_putc(b, ',');
    if (!err)
        err = buf_put_json_str(b, v);
    return err;
}

static enum scb_err put_num(struct buf *b, const char *name, int64_t v)
{
    char tmp[24];

    snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    return put_pair(b, name, tmp);
}

/* The job's fields as a JSON array of strings, as the scripts take. */
static enum scb_err plan_fields(const struct queue_job *job,
                                const struct finish_plan *p, struct buf *b)
{
    const char *error = job->error[0] ? job->error : job->last_error;
    enum scb_err err = buf_putc(b, '[');

    if (!err)
        err = put_pair(b, "v", QUEUE_SCHEMA);
    if (!err)
        err = put_pair(b, "id", job->id);
    if (!err)
        err = put_pair(b, "type", job->type);
    if (!err)
        err = put_pair(b, "key", job->key);
    if (!err)
        err = put_pair(b, "payload", job->payload);
    if (!err)
        err = put_num(b, "accepted", job->accepted_ms);
    if (!err)
        err = put_num(b, "attempts", p->attempts);
    if (!err && strcmp(p->action, "dead") == 0)
        err = put_pair(b, "reason", p->reason);
    else if (!err)
        err = put_num(b, "waited", p->waited_ms);
    if (!err)
        err = put_pair(b, "error", error);
    if (!err)
        err = buf_putc(b, ']');
    return err;
}

static enum scb_err finish_run(struct queue_job *job,
                               const struct finish_plan *p, const char *fields)
{
    struct qkeys k;
    struct args a;
    struct buf mk;
    redisReply *r = NULL;
    enum scb_err err;

    qkeys_init(&k, job->st);
    buf_init(&mk, 512);
    err = job->key[0]
              ? buf_printf(&mk, "%s%s:%s", k.marker, job->type, job->key)
              : buf_puts(&mk, "");
    args_init(&a, 16);
    args_add(&a, k.stream);
    args_add(&a, k.delayed);
    args_add(&a, k.data);
    args_add(&a, k.dead);
    args_add(&a, QUEUE_GROUP);
    args_add(&a, job->consumer);
    args_add(&a, job->entry_id);
    args_add(&a, p->action);
    args_add(&a, err ? "" : mk.data);
    args_add(&a, job->id);
    args_i64(&a, p->delay_ms);
    args_add(&a, fields);
    args_i64(&a, job->cfg->order_retention_s * 1000);
    args_i64(&a, QUEUE_MARKER_TTL_S);
    args_add(&a, k.deadkey);
    if (!err)
        err = args_eval(&a, job->st, &queue_lua_finish, 4, &r);
    args_release(&a);
    buf_release(&mk);
    if (err)
        return err;
    err = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? SCB_OK
                                                            : SCB_ECONFLICT;
    freeReplyObject(r);
    return err;
}

static enum scb_err finish_plan_run(struct queue_job *job,
                                    const struct finish_plan *p)
{
    struct buf fields;
    enum scb_err err = SCB_OK;

    buf_init(&fields, strlen(job->payload) * 6 + 65536);
    if (strcmp(p->action, "ack") != 0)
        err = plan_fields(job, p, &fields);
    if (!err)
        err = finish_run(job, p, fields.data ? fields.data : "");
    buf_release(&fields);
    return err;
}

enum scb_err queue_finish(struct queue_job *job, enum queue_outcome outcome,
                          struct queue_finished *out)
{
    struct finish_plan p;
    enum scb_err err;

    plan_finish(job, outcome, &p);
    err = finish_plan_run(job, &p);
    if (!err) {
        out->outcome = p.applied;
        out->delay_ms = p.delay_ms;
    }
    return err;
}

enum scb_err queue_release(struct queue_job *job)
{
    struct finish_plan p;

    memset(&p, 0, sizeof(p));
    p.action = "release";
    p.attempts = job->attempts;
    p.waited_ms = job->waited_ms;
    return finish_plan_run(job, &p);
}

/* ---- leases and sweeps ------------------------------------------------ */

enum scb_err queue_renew(struct store *st, const char *const *consumers,
                         const char *const *ids, size_t n, size_t *out_renewed)
{
    struct qkeys k;
    struct args a;
    redisReply *r = NULL;
    enum scb_err err;

    if (n > 4096)
        return SCB_EINVAL;
    qkeys_init(&k, st);
    args_init(&a, 2 + 2 * (int)n);
    args_add(&a, k.stream);
    args_add(&a, QUEUE_GROUP);
    for (size_t i = 0; i < n; i++) {
        args_add(&a, consumers[i]);
        args_add(&a, ids[i]);
    }
    err = args_eval(&a, st, &queue_lua_renew, 1, &r);
    args_release(&a);
    if (err)
        return err;
    if (r->type == REDIS_REPLY_INTEGER)
        *out_renewed = (size_t)r->integer;
    else
        err = SCB_ESTORECMD;
    freeReplyObject(r);
    return err;
}

enum scb_err queue_job_renew(struct queue_job *job)
{
    const char *c = job->consumer;
    const char *id = job->entry_id;
    size_t renewed = 0;
    enum scb_err err = queue_renew(job->st, &c, &id, 1, &renewed);

    if (!err && renewed != 1)
        err = SCB_ECONFLICT;
    return err;
}

static enum scb_err queue_housekeep(struct store *st, const struct config *cfg,
                                    const struct qkeys *k)
{
    struct args a;
    redisReply *r = NULL;
    enum scb_err err;

    args_init(&a, 4);
    args_add(&a, k->stream);
    args_add(&a, k->dead);
    args_add(&a, QUEUE_GROUP);
    args_i64(&a, cfg->order_retention_s * 1000);
    err = args_eval(&a, st, &queue_lua_house, 2, &r);
    args_release(&a);
    if (!err)
        freeReplyObject(r);
    return err;
}

enum scb_err queue_sweep(struct store *st, const struct config *cfg,
                         const char *consumer, bool housekeeping,
                         struct queue_sweep_result *out)
{
    struct qkeys k;
    struct args a;
    redisReply *r = NULL;
    enum scb_err err;

    qkeys_init(&k, st);
    args_init(&a, 16);
    args_add(&a, k.stream);
    args_add(&a, k.delayed);
    args_add(&a, k.data);
    args_add(&a, k.dead);
    args_add(&a, QUEUE_GROUP);
    args_add(&a, consumer);
    args_i64(&a, cfg->job_lease_s * 1000);
    args_i64(&a, cfg->job_max_attempts);
    args_i64(&a, QUEUE_SWEEP_BATCH);
    args_add(&a, k.marker);
    args_i64(&a, QUEUE_MARKER_TTL_S);
    args_i64(&a, cfg->order_retention_s * 1000);
    args_add(&a, k.deadkey);
    err = args_eval(&a, st, &queue_lua_sweep, 4, &r);
    args_release(&a);
    if (!err && housekeeping)
        err = queue_housekeep(st, cfg, &k);
    if (err) {
        freeReplyObject(r);
        return err;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 5) {
        out->promoted = reply_int_at(r, 0);
        out->reclaimed = reply_int_at(r, 1);
        out->dead = reply_int_at(r, 2);
        out->next_due_ms = reply_int_at(r, 3);
        out->more = reply_int_at(r, 4) != 0;
    } else {
        err = SCB_ESTORECMD;
    }
    freeReplyObject(r);
    return err;
}

enum scb_err queue_consumer_drop(struct store *st, const char *consumer)
{
    struct qkeys k;
    redisReply *r = NULL;
    const char *argv[3];
    enum scb_err err;

    qkeys_init(&k, st);
    argv[0] = k.stream;
    argv[1] = QUEUE_GROUP;
    argv[2] = consumer;
    err = store_eval(st, &queue_lua_drop, &r, 1, 3, argv, NULL);
    if (!err)
        freeReplyObject(r);
    return err;
}

/* ---- stats ------------------------------------------------------------ */

enum scb_err queue_stats_read(struct store *st, const struct config *cfg,
                              struct queue_stats *out)
{
    struct qkeys k;
    struct args a;
    redisReply *r = NULL;
    enum scb_err err;
    int64_t age;

    qkeys_init(&k, st);
    args_init(&a, 5);
    args_add(&a, k.stream);
    args_add(&a, k.delayed);
    args_add(&a, k.dead);
    args_add(&a, QUEUE_GROUP);
    args_i64(&a, cfg->job_lease_s * 1000);
    err = args_eval(&a, st, &queue_lua_stats, 3, &r);
    args_release(&a);
    if (err)
        return err;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        freeReplyObject(r);
        return SCB_ESTORECMD;
    }
    out->ready = reply_int_at(r, 0);
    out->pending = reply_int_at(r, 1);
    out->delayed = reply_int_at(r, 2);
    out->dead = reply_int_at(r, 3);
    out->in_flight = reply_int_at(r, 4);
    age = reply_int_at(r, 5);
    out->oldest_age_s = age > 0 ? (double)age / 1000.0 : 0.0;
    freeReplyObject(r);
    return SCB_OK;
}

/* ---- dead letters ----------------------------------------------------- */

void queue_dead_release(struct queue_dead *d)
{
    if (!d)
        return;
    mem_free(d->type);
    mem_free(d->key);
    mem_free(d->payload);
    mem_free(d->reason);
    mem_free(d->error);
    memset(d, 0, sizeof(*d));
}

static enum scb_err dead_fill(struct queue_dead *d, const char *id,
                              const redisReply *f)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", id);
    snprintf(d->job_id, sizeof(d->job_id), "%s",
             reply_str(f, "id") ? reply_str(f, "id") : "");
    d->type = dup_or_empty(reply_str(f, "type"));
    d->key = dup_or_empty(reply_str(f, "key"));
    d->payload = dup_or_empty(reply_str(f, "payload"));
    d->reason = dup_or_empty(reply_str(f, "reason"));
    d->error = dup_or_empty(reply_str(f, "error"));
    d->attempts = reply_i64(f, "attempts", 0);
    d->accepted_ms = reply_i64(f, "accepted", 0);
    d->failed_at_ms = reply_i64(f, "failed_at", 0);
    if (!d->type || !d->key || !d->payload || !d->reason || !d->error) {
        queue_dead_release(d);
        return SCB_ENOMEM;
    }
    return SCB_OK;
}

void queue_dead_page_release(struct queue_dead_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->n; i++)
        queue_dead_release(&page->items[i]);
    mem_free(page->items);
    memset(page, 0, sizeof(*page));
}

static enum scb_err dead_page_fill(const redisReply *r, size_t limit,
                                   struct queue_dead_page *page)
{
    size_t n = r->elements < limit ? r->elements : limit;
    enum scb_err err = SCB_OK;

    page->items = mem_calloc(n ? n : 1, sizeof(*page->items));
    if (!page->items)
        return SCB_ENOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        const redisReply *e = r->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING) {
            err = SCB_ESTORECMD;
            break;
        }
        err = dead_fill(&page->items[i], e->element[0]->str, e->element[1]);
        if (!err)
            page->n++;
    }
    if (!err && r->elements > limit && n)
        snprintf(page->next_cursor, sizeof(page->next_cursor), "%s",
                 page->items[n - 1].id);
    return err;
}

enum scb_err queue_dead_list(struct store *st, const char *cursor, size_t limit,
                             struct queue_dead_page *out)
{
    struct queue_dead_page page = { 0 };
    struct qkeys k;
    char start[QUEUE_ID_MAX + 1] = "-";
    redisReply *r = NULL;
    enum scb_err err;

    if (limit < 1 || limit > 500)
        return SCB_EINVAL;
    if (cursor && *cursor) {
        if (!queue_id_valid(cursor))
            return SCB_EINVAL;
        snprintf(start, sizeof(start), "(%s", cursor);
    }
    qkeys_init(&k, st);
    err = store_cmd(st, &r, "XRANGE %s %s + COUNT %lld", k.dead, start,
                    (long long)limit + 1);
    if (err)
        return err;
    err = r->type == REDIS_REPLY_ARRAY ? dead_page_fill(r, limit, &page)
                                       : SCB_ESTORECMD;
    freeReplyObject(r);
    if (err)
        queue_dead_page_release(&page);
    else
        *out = page;
    return err;
}

static enum scb_err dead_result(const redisReply *r,
                                struct queue_dead *out_dead)
{
    int64_t status = reply_int_at(r, 0);

    if (status == 0)
        return SCB_ENOTFOUND;
    if (status == -1)
        return SCB_EVERSION;
    if (r->elements != 3 || r->element[1]->type != REDIS_REPLY_STRING)
        return SCB_ESTORECMD;
    if (!out_dead)
        return SCB_OK;
    return dead_fill(out_dead, r->element[1]->str, r->element[2]);
}

static enum scb_err dead_op(struct store *st, const char *action,
                            const char *id, const char *key,
                            struct queue_dead *out_dead)
{
    struct qkeys k;
    struct args a;
    redisReply *r = NULL;
    enum scb_err err;

    qkeys_init(&k, st);
    args_init(&a, 11);
    args_add(&a, k.stream);
    args_add(&a, k.delayed);
    args_add(&a, k.data);
    args_add(&a, k.dead);
    args_add(&a, action);
    args_add(&a, id);
    args_add(&a, key);
    args_add(&a, QUEUE_GROUP);
    args_add(&a, k.marker);
    args_i64(&a, QUEUE_MARKER_TTL_S);
    args_add(&a, k.deadkey);
    err = args_eval(&a, st, &queue_lua_dead, 4, &r);
    args_release(&a);
    if (err)
        return err;
    err = r->type == REDIS_REPLY_ARRAY ? dead_result(r, out_dead)
                                       : SCB_ESTORECMD;
    freeReplyObject(r);
    return err;
}

enum scb_err queue_dead_retry(struct store *st, const char *id,
                              struct queue_dead *out_dead)
{
    if (!queue_id_valid(id))
        return SCB_ENOTFOUND;
    return dead_op(st, "retry", id, "", out_dead);
}

enum scb_err queue_dead_discard(struct store *st, const char *id,
                                struct queue_dead *out_dead)
{
    if (!queue_id_valid(id))
        return SCB_ENOTFOUND;
    return dead_op(st, "discard", id, "", out_dead);
}

enum scb_err queue_dead_discard_key(struct store *st, const char *key,
                                    struct queue_dead *out_dead)
{
    if (!queue_text_ok(key, QUEUE_KEY_MAX, ' ', 0))
        return SCB_ENOTFOUND;
    return dead_op(st, "discard", "", key, out_dead);
}

enum scb_err queue_dead_count(struct store *st, int64_t *out_n)
{
    struct qkeys k;
    redisReply *r = NULL;
    enum scb_err err;

    qkeys_init(&k, st);
    err = store_cmd(st, &r, "XLEN %s", k.dead);
    if (err)
        return err;
    if (r->type == REDIS_REPLY_INTEGER)
        *out_n = r->integer;
    else
        err = SCB_ESTORECMD;
    freeReplyObject(r);
    return err;
}
