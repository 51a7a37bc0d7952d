/* SPDX-License-Identifier: MIT */
/* Unit tests of webhook.c: signatures, header checks and the three bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "mem.h"
#include "webhook.h"

#define NOW 1700000000
#define TOL 300

/* The published Standard Webhooks example (svix docs). */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS "1614265330"
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static const char body_sc[] = "{\"type\":\"order.created\",\"company_id\":163,"
                              "\"order_ids\":[5012001,5012002]}";

/* Secrets as config_load() would hold them. */
static unsigned char key_sc[] = "scbridge-test-key-sc";
static unsigned char key_sc_new[] = "scbridge-test-key-sc-rotated";
static unsigned char key_ddi[] = "scbridge-test-key-ddi";

static struct config_secret secret_of(unsigned char *k)
{
    struct config_secret s = { k, strlen((const char *)k) };

    return s;
}

/* "v1,<sig>" of 'body' under 'key' for id and ts, into out. */
static void sign_into(unsigned char *key, const char *id, const char *ts,
                      const char *body, char *out, size_t outlen)
{
    char sig[WEBHOOK_SIG_LEN + 1];

    assert_int_equal(webhook_sign(key, strlen((const char *)key), id, ts, body,
                                  strlen(body), sig),
                     SCB_OK);
    snprintf(out, outlen, "v1,%s", sig);
}

static enum webhook_answer verify_with(const char *id, const char *ts,
                                       const char *sig, const char *body,
                                       struct config_secret *sec, size_t n)
{
    struct webhook_headers h = { id, ts, sig };

    return webhook_verify(&h, body, strlen(body), sec, n, NOW, TOL);
}

/* Verifies body_sc signed with key_sc under id "msg_1" at 'ts'. */
static enum webhook_answer verify_sc_at(const char *ts)
{
    char sig[64];
    struct config_secret sec = secret_of(key_sc);

    sign_into(key_sc, "msg_1", ts, body_sc, sig, sizeof(sig));
    return verify_with("msg_1", ts, sig, body_sc, &sec, 1);
}

static const char *ts_at(long delta, char *out, size_t outlen)
{
    snprintf(out, outlen, "%ld", (long)NOW + delta);
    return out;
}

/* ---- answers ---- */

static void test_webhook__answers_match_the_table(void **state)
{
    (void)state;
    assert_int_equal(webhook_answer_status(WEBHOOK_ACCEPTED), 202);
    assert_string_equal(webhook_answer_body(WEBHOOK_ACCEPTED),
                        "{\"status\":\"accepted\"}");
    assert_string_equal(webhook_answer_outcome(WEBHOOK_ACCEPTED), "accepted");
    assert_string_equal(webhook_answer_body(WEBHOOK_DUPLICATE),
                        "{\"status\":\"duplicate\"}");
    assert_string_equal(webhook_answer_outcome(WEBHOOK_DUPLICATE), "duplicate");
    assert_string_equal(webhook_answer_body(WEBHOOK_IGNORED),
                        "{\"status\":\"ignored\"}");
    assert_int_equal(webhook_answer_status(WEBHOOK_IGNORED), 202);
    assert_int_equal(webhook_answer_status(WEBHOOK_BAD_JSON), 400);
    assert_string_equal(webhook_answer_body(WEBHOOK_UNKNOWN_COMPANY),
                        "{\"error\":\"unknown_company\"}");
    assert_string_equal(webhook_answer_outcome(WEBHOOK_UNKNOWN_COMPANY),
                        "bad_request");
    assert_int_equal(webhook_answer_status(WEBHOOK_MISSING_HEADER), 401);
    assert_string_equal(webhook_answer_body(WEBHOOK_STALE_TIMESTAMP),
                        "{\"error\":\"stale_timestamp\"}");
    assert_string_equal(webhook_answer_outcome(WEBHOOK_BAD_SIGNATURE),
                        "unauthorized");
    assert_int_equal(webhook_answer_status(WEBHOOK_TOO_LARGE), 413);
    assert_string_equal(webhook_answer_outcome(WEBHOOK_TOO_LARGE), "too_large");
    assert_int_equal(webhook_answer_status(WEBHOOK_UNAVAILABLE), 503);
    assert_string_equal(webhook_answer_body(WEBHOOK_UNAVAILABLE),
                        "{\"error\":\"unavailable\"}");
    assert_int_equal(webhook_answer_status(WEBHOOK_OK), 0);
    assert_string_equal(webhook_source_label(WEBHOOK_SRC_SELLERCLOUD),
                        "sellercloud");
    assert_string_equal(webhook_source_label(WEBHOOK_SRC_DDI_SHIP_CONFIRM),
                        "ddi_ship_confirm");
    assert_string_equal(webhook_source_label(WEBHOOK_SRC_DDI_ITEMS),
                        "ddi_items");
}

static void test_webhook__answers_are_distinct(void **state)
{
    (void)state;
    for (int a = WEBHOOK_ACCEPTED; a < WEBHOOK_ANSWER_COUNT; a++) {
        for (int b = a + 1; b < WEBHOOK_ANSWER_COUNT; b++)
            assert_string_not_equal(webhook_answer_body(a),
                                    webhook_answer_body(b));
    }
}

/* ---- secrets and signing ---- */

static void test_webhook__sign_matches_published_example(void **state)
{
    struct config_secret key = { 0 };
    char sig[WEBHOOK_SIG_LEN + 1];

    (void)state;
    assert_int_equal(webhook_secret_decode(SW_SECRET, strlen(SW_SECRET), &key),
                     SCB_OK);
    assert_int_equal(webhook_sign(key.bytes, key.len, SW_ID, SW_TS, SW_BODY,
                                  strlen(SW_BODY), sig),
                     SCB_OK);
    assert_string_equal(sig, SW_SIG);
    mem_free_secret(key.bytes, key.len);
}

static void test_webhook__verify_accepts_published_example(void **state)
{
    struct config_secret key = { 0 };
    struct webhook_headers h = { SW_ID, SW_TS, "v1," SW_SIG };

    (void)state;
    assert_int_equal(webhook_secret_decode(SW_SECRET, strlen(SW_SECRET), &key),
                     SCB_OK);
    assert_int_equal(
        webhook_verify(&h, SW_BODY, strlen(SW_BODY), &key, 1, 1614265330, TOL),
        WEBHOOK_OK);
    mem_free_secret(key.bytes, key.len);
}

static void test_webhook__secret_decode_whsec_and_bare(void **state)
{
    /* base64("scbridge-test-key-sc") */
    const char *bare = "c2NicmlkZ2UtdGVzdC1rZXktc2M=";
    const char *whsec = "whsec_c2NicmlkZ2UtdGVzdC1rZXktc2M=";
    const char *unpadded = "c2NicmlkZ2UtdGVzdC1rZXktc2M";
    const char *inputs[] = { bare, whsec, unpadded };
    struct config_secret key;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(
            webhook_secret_decode(inputs[i], strlen(inputs[i]), &key), SCB_OK);
        assert_int_equal(key.len, 20);
        assert_memory_equal(key.bytes, "scbridge-test-key-sc", 20);
        mem_free_secret(key.bytes, key.len);
    }
}

static void test_webhook__secret_decode_rejects_bad_text(void **state)
{
    const char *bad[] = { "",     "whsec_", "a",     "abcde",       "ab!d",
                          "ab=d", "abc==",  "ab===", "whsec_ab cd", "ab==ab" };
    struct config_secret key = { NULL, 7 };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(webhook_secret_decode(bad[i], strlen(bad[i]), &key),
                         SCB_EINVAL);
        assert_null(key.bytes);
        assert_int_equal(key.len, 7);
    }
}

static void test_webhook__sign_refuses_empty_key(void **state)
{
    char sig[WEBHOOK_SIG_LEN + 1];

    (void)state;
    assert_int_equal(webhook_sign(key_sc, 0, "a", "1", "", 0, sig), SCB_EINVAL);
}

/* ---- verification ---- */

static void test_webhook__verify_accepts_good_signature(void **state)
{
    char ts[32];

    (void)state;
    assert_int_equal(verify_sc_at(ts_at(0, ts, sizeof(ts))), WEBHOOK_OK);
}

static void test_webhook__verify_accepts_any_of_several_secrets(void **state)
{
    char ts[32], sig[64];
    struct config_secret sec[3] = { secret_of(key_ddi), secret_of(key_sc),
                                    secret_of(key_sc_new) };

    (void)state;
    ts_at(0, ts, sizeof(ts));
    sign_into(key_sc_new, "msg_2", ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with("msg_2", ts, sig, body_sc, sec, 3),
                     WEBHOOK_OK);
    sign_into(key_sc, "msg_2", ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with("msg_2", ts, sig, body_sc, sec, 3),
                     WEBHOOK_OK);
}

static void test_webhook__verify_accepts_any_of_several_entries(void **state)
{
    char ts[32], good[64], other[64], hdr[256];
    struct config_secret sec = secret_of(key_sc);

    (void)state;
    ts_at(0, ts, sizeof(ts));
    sign_into(key_sc, "msg_3", ts, body_sc, good, sizeof(good));
    sign_into(key_ddi, "msg_3", ts, body_sc, other, sizeof(other));
    snprintf(hdr, sizeof(hdr), "%s %s", other, good);
    assert_int_equal(verify_with("msg_3", ts, hdr, body_sc, &sec, 1),
                     WEBHOOK_OK);
    snprintf(hdr, sizeof(hdr), "%s  %s", good, other);
    assert_int_equal(verify_with("msg_3", ts, hdr, body_sc, &sec, 1),
                     WEBHOOK_OK);
}

static void test_webhook__verify_ignores_other_versions(void **state)
{
    char ts[32], good[64], hdr[256];
    struct config_secret sec = secret_of(key_sc);

    (void)state;
    ts_at(0, ts, sizeof(ts));
    sign_into(key_sc, "msg_4", ts, body_sc, good, sizeof(good));
    /* The right HMAC under the label v2 is not a v1 entry. */
    snprintf(hdr, sizeof(hdr), "v2,%s", good + 3);
    assert_int_equal(verify_with("msg_4", ts, hdr, body_sc, &sec, 1),
                     WEBHOOK_BAD_SIGNATURE);
    snprintf(hdr, sizeof(hdr), "v1a,xyz %s", good);
    assert_int_equal(verify_with("msg_4", ts, hdr, body_sc, &sec, 1),
                     WEBHOOK_OK);
}

static void test_webhook__verify_rejects_other_source_secret(void **state)
{
    char ts[32], sig[64];
    struct config_secret sec = secret_of(key_ddi);

    (void)state;
    ts_at(0, ts, sizeof(ts));
    sign_into(key_sc, "msg_5", ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with("msg_5", ts, sig, body_sc, &sec, 1),
                     WEBHOOK_BAD_SIGNATURE);
}

static void test_webhook__verify_rejects_tampering(void **state)
{
    char ts[32], ts2[32], sig[64];
    struct config_secret sec = secret_of(key_sc);
    const char *tampered = "{\"type\":\"order.created\",\"company_id\":163,"
                           "\"order_ids\":[5012001,5012003]}";

    (void)state;
    ts_at(0, ts, sizeof(ts));
    ts_at(1, ts2, sizeof(ts2));
    sign_into(key_sc, "msg_6", ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with("msg_6", ts, sig, tampered, &sec, 1),
                     WEBHOOK_BAD_SIGNATURE);
    assert_int_equal(verify_with("msg_7", ts, sig, body_sc, &sec, 1),
                     WEBHOOK_BAD_SIGNATURE);
    assert_int_equal(verify_with("msg_6", ts2, sig, body_sc, &sec, 1),
                     WEBHOOK_BAD_SIGNATURE);
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_with("msg_6", ts, sig, body_sc, &sec, 1),
                     WEBHOOK_BAD_SIGNATURE);
}

static void test_webhook__verify_rejects_truncated_entry(void **state)
{
    char ts[32], sig[64];
    struct config_secret sec = secret_of(key_sc);

    (void)state;
    ts_at(0, ts, sizeof(ts));
    sign_into(key_sc, "msg_8", ts, body_sc, sig, sizeof(sig));
    sig[strlen(sig) - 1] = '\0';
    assert_int_equal(verify_with("msg_8", ts, sig, body_sc, &sec, 1),
                     WEBHOOK_BAD_SIGNATURE);
}

static void test_webhook__verify_without_secrets_fails(void **state)
{
    char ts[32], sig[64];

    (void)state;
    ts_at(0, ts, sizeof(ts));
    sign_into(key_sc, "msg_9", ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with("msg_9", ts, sig, body_sc, NULL, 0),
                     WEBHOOK_BAD_SIGNATURE);
}

static void test_webhook__verify_rejects_stale_and_future(void **state)
{
    char ts[32];

    (void)state;
    assert_int_equal(verify_sc_at(ts_at(-TOL, ts, sizeof(ts))), WEBHOOK_OK);
    assert_int_equal(verify_sc_at(ts_at(TOL, ts, sizeof(ts))), WEBHOOK_OK);
    assert_int_equal(verify_sc_at(ts_at(-TOL - 1, ts, sizeof(ts))),
                     WEBHOOK_STALE_TIMESTAMP);
    assert_int_equal(verify_sc_at(ts_at(TOL + 1, ts, sizeof(ts))),
                     WEBHOOK_STALE_TIMESTAMP);
    assert_int_equal(verify_sc_at("0"), WEBHOOK_STALE_TIMESTAMP);
    assert_int_equal(verify_sc_at("99999999999999999999999999"),
                     WEBHOOK_STALE_TIMESTAMP);
}

static void test_webhook__verify_stale_before_signature(void **state)
{
    char ts[32];
    struct config_secret sec = secret_of(key_sc);

    (void)state;
    ts_at(-TOL - 1, ts, sizeof(ts));
    assert_int_equal(verify_with("msg_a", ts, "v1,AAAA", body_sc, &sec, 1),
                     WEBHOOK_STALE_TIMESTAMP);
}

static void test_webhook__verify_rejects_missing_headers(void **state)
{
    char ts[32], sig[64];
    struct config_secret sec = secret_of(key_sc);

    (void)state;
    ts_at(0, ts, sizeof(ts));
    sign_into(key_sc, "msg_b", ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with(NULL, ts, sig, body_sc, &sec, 1),
                     WEBHOOK_MISSING_HEADER);
    assert_int_equal(verify_with("msg_b", NULL, sig, body_sc, &sec, 1),
                     WEBHOOK_MISSING_HEADER);
    assert_int_equal(verify_with("msg_b", ts, NULL, body_sc, &sec, 1),
                     WEBHOOK_MISSING_HEADER);
}

static void test_webhook__verify_rejects_malformed_id(void **state)
{
    char ts[32], sig[64], id[300];
    struct config_secret sec = secret_of(key_sc);
    const char *bad[] = { "", "msg\x01", "msg\x7f", "m\xc3\xa9g", "a\tb" };

    (void)state;
    ts_at(0, ts, sizeof(ts));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sign_into(key_sc, bad[i], ts, body_sc, sig, sizeof(sig));
        assert_int_equal(verify_with(bad[i], ts, sig, body_sc, &sec, 1),
                         WEBHOOK_MISSING_HEADER);
    }
    memset(id, 'i', WEBHOOK_ID_MAX + 1);
    id[WEBHOOK_ID_MAX + 1] = '\0';
    sign_into(key_sc, id, ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with(id, ts, sig, body_sc, &sec, 1),
                     WEBHOOK_MISSING_HEADER);
    id[WEBHOOK_ID_MAX] = '\0';
    sign_into(key_sc, id, ts, body_sc, sig, sizeof(sig));
    assert_int_equal(verify_with(id, ts, sig, body_sc, &sec, 1), WEBHOOK_OK);
}

static void test_webhook__verify_rejects_malformed_timestamp(void **state)
{
    char sig[64];
    struct config_secret sec = secret_of(key_sc);
    const char *bad[] = { "",
                          "abc",
                          "-1700000000",
                          "+1700000000",
                          " 1700000000",
                          "1700000000.5",
                          "17e8",
                          "0x6553F100" };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sign_into(key_sc, "msg_c", bad[i], body_sc, sig, sizeof(sig));
        assert_int_equal(verify_with("msg_c", bad[i], sig, body_sc, &sec, 1),
                         WEBHOOK_MISSING_HEADER);
    }
}

static void test_webhook__verify_rejects_malformed_signature(void **state)
{
    char ts[32];
    struct config_secret sec = secret_of(key_sc);
    const char *bad[] = {
        "", " ", "v1", "v1,", ",abc", "v1,abc v1", "v1,abc ,x"
    };

    (void)state;
    ts_at(0, ts, sizeof(ts));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(verify_with("msg_d", ts, bad[i], body_sc, &sec, 1),
                         WEBHOOK_MISSING_HEADER);
    /* Header checks come before the timestamp check. */
    assert_int_equal(verify_with("msg_d", "1", "v1", body_sc, &sec, 1),
                     WEBHOOK_MISSING_HEADER);
}

/* ---- Sellercloud body ---- */

static const int64_t companies[] = { 163, 164 };

static enum webhook_answer parse_sc(const char *body,
                                    struct webhook_sc_note *note)
{
    return webhook_parse_sellercloud(body, strlen(body), companies, 2, note);
}

static void test_webhook__sc_body_accepted(void **state)
{
    struct webhook_sc_note note;

    (void)state;
    assert_int_equal(parse_sc(body_sc, &note), WEBHOOK_OK);
    assert_int_equal(note.company_id, 163);
    assert_int_equal(note.n_order_ids, 2);
    assert_int_equal(note.order_ids[0], 5012001);
    assert_int_equal(note.order_ids[1], 5012002);
}

static void test_webhook__sc_body_accepts_each_type(void **state)
{
    const char *types[] = { "order.created", "order.updated", "order.shipped" };
    char body[256];
    struct webhook_sc_note note;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        snprintf(body, sizeof(body),
                 "{\"type\":\"%s\",\"company_id\":164,\"order_ids\":[1],"
                 "\"extra\":{\"x\":[1,2]}}",
                 types[i]);
        assert_int_equal(parse_sc(body, &note), WEBHOOK_OK);
        assert_int_equal(note.company_id, 164);
    }
}

static void test_webhook__sc_body_counts_duplicates_once(void **state)
{
    struct webhook_sc_note note;

    (void)state;
    assert_int_equal(parse_sc("{\"type\":\"order.updated\",\"company_id\":"
                              "163,\"order_ids\":[7,8,7,7,9,8]}",
                              &note),
                     WEBHOOK_OK);
    assert_int_equal(note.n_order_ids, 3);
    assert_int_equal(note.order_ids[0], 7);
    assert_int_equal(note.order_ids[1], 8);
    assert_int_equal(note.order_ids[2], 9);
}

static void test_webhook__sc_body_rejects_bad_shapes(void **state)
{
    const char *bad[] = {
        "",
        "not json",
        "[]",
        "\"x\"",
        "null",
        "{}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":[1]}x",
        "{\"type\":\"order.deleted\",\"company_id\":163,\"order_ids\":[1]}",
        "{\"type\":\"ORDER.CREATED\",\"company_id\":163,\"order_ids\":[1]}",
        "{\"type\":1,\"company_id\":163,\"order_ids\":[1]}",
        "{\"company_id\":163,\"order_ids\":[1]}",
        "{\"type\":\"order.created\",\"order_ids\":[1]}",
        "{\"type\":\"order.created\",\"company_id\":0,\"order_ids\":[1]}",
        "{\"type\":\"order.created\",\"company_id\":-163,\"order_ids\":[1]}",
        "{\"type\":\"order.created\",\"company_id\":163.5,\"order_ids\":[1]}",
        "{\"type\":\"order.created\",\"company_id\":\"163\","
        "\"order_ids\":[1]}",
        "{\"type\":\"order.created\",\"company_id\":2147483648,"
        "\"order_ids\":[1]}",
        "{\"type\":\"order.created\",\"company_id\":163}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":[]}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":1}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":[0]}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":[-1]}",
        "{\"type\":\"order.created\",\"company_id\":163,"
        "\"order_ids\":[2147483648]}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":[1.5]}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":[\"1\"]}",
        "{\"type\":\"order.created\",\"company_id\":163,\"order_ids\":[null]}",
    };
    struct webhook_sc_note note;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        note.n_order_ids = 99;
        assert_int_equal(parse_sc(bad[i], &note), WEBHOOK_BAD_JSON);
        assert_int_equal(note.n_order_ids, 99);
    }
}

static void test_webhook__sc_body_rejects_embedded_nul(void **state)
{
    static const char body[] = "{\"type\":\"order.created\",\"company_id\":"
                               "163,\"order_ids\":[1]}\0";
    struct webhook_sc_note note;

    (void)state;
    assert_int_equal(
        webhook_parse_sellercloud(body, sizeof(body), companies, 2, &note),
        WEBHOOK_BAD_JSON);
}

/* A body with 'n' order ids 1..n (or all 'same' when non-zero). */
static void sc_body_with_ids(struct buf *b, size_t n, long same)
{
    assert_int_equal(buf_puts(b, "{\"type\":\"order.created\","
                                 "\"company_id\":163,\"order_ids\":["),
                     SCB_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            buf_printf(b, "%s%ld", i ? "," : "", same ? same : (long)i + 1),
            SCB_OK);
    assert_int_equal(buf_puts(b, "]}"), SCB_OK);
}

static void test_webhook__sc_body_limits_order_ids_to_500(void **state)
{
    struct buf b;
    struct webhook_sc_note note;

    (void)state;
    buf_init(&b, 1 << 20);
    sc_body_with_ids(&b, 500, 0);
    assert_int_equal(parse_sc(b.data, &note), WEBHOOK_OK);
    assert_int_equal(note.n_order_ids, 500);
    assert_int_equal(note.order_ids[499], 500);
    buf_reset(&b);
    sc_body_with_ids(&b, 501, 0);
    assert_int_equal(parse_sc(b.data, &note), WEBHOOK_BAD_JSON);
    buf_reset(&b);
    /* The limit is on the list as sent, repeats included. */
    sc_body_with_ids(&b, 501, 42);
    assert_int_equal(parse_sc(b.data, &note), WEBHOOK_BAD_JSON);
    buf_release(&b);
}

static void test_webhook__sc_body_accepts_int32_extremes(void **state)
{
    const char *body = "{\"type\":\"order.created\",\"company_id\":"
                       "2147483647,\"order_ids\":[2147483647,1]}";
    struct webhook_sc_note note;
    const int64_t big[] = { 2147483647 };

    (void)state;
    assert_int_equal(
        webhook_parse_sellercloud(body, strlen(body), big, 1, &note),
        WEBHOOK_OK);
    assert_int_equal(note.order_ids[0], 2147483647);
    assert_int_equal(note.order_ids[1], 1);
}

static void test_webhook__sc_body_rejects_unknown_company(void **state)
{
    struct webhook_sc_note note;

    (void)state;
    note.n_order_ids = 99;
    assert_int_equal(parse_sc("{\"type\":\"order.created\",\"company_id\":"
                              "165,\"order_ids\":[1]}",
                              &note),
                     WEBHOOK_UNKNOWN_COMPANY);
    assert_int_equal(note.n_order_ids, 99);
    /* A body that is bad anyway is bad_json, whatever its company. */
    assert_int_equal(parse_sc("{\"type\":\"order.created\",\"company_id\":"
                              "165,\"order_ids\":[]}",
                              &note),
                     WEBHOOK_BAD_JSON);
}

/* ---- DDI ship confirm ---- */

#define SHIP_HEAD "{\"shipment_id\":\"SH778899\",\"order_no\":\"SO123456\","
#define SHIP_GOOD_REST                                                  \
    "\"reference\":\"SC-163-5012001\","                                 \
    "\"confirmed_at\":\"2026-12-01T17:04:00Z\",\"ship_date\":"          \
    "\"2026-12-01\",\"carrier\":\"UPS\",\"service\":\"Ground\","        \
    "\"packages\":[{\"tracking_no\":\"1Z999\",\"weight_lb\":\"3.2\"}]," \
    "\"lines\":[{\"line_no\":1,\"product_no\":\"ABC-1\","               \
    "\"qty_shipped\":2}],\"complete\":true,\"deposit_applied\":\"48.18\"}"

static enum webhook_answer parse_ship(const char *body)
{
    struct webhook_shipment s = { 0 };
    enum webhook_answer res;

    res = webhook_parse_ship_confirm(body, strlen(body), &s);
    if (res != WEBHOOK_OK)
        assert_null(s.record);
    webhook_shipment_release(&s);
    return res;
}

/*
 * The good record with one top-level field replaced by 'field' (a
 * "key":value text) or, when 'field' is "-key", with key removed.
 */
static enum webhook_answer parse_ship_with(const char *field)
{
    cJSON *root = cJSON_Parse(SHIP_HEAD SHIP_GOOD_REST), *v, *item;
    char *text, wrapped[512], key[64];
    enum webhook_answer res;

    assert_non_null(root);
    if (field[0] == '-') {
        cJSON_DeleteItemFromObjectCaseSensitive(root, field + 1);
    } else {
        snprintf(wrapped, sizeof(wrapped), "{%s}", field);
        v = cJSON_Parse(wrapped);
        assert_non_null(v);
        snprintf(key, sizeof(key), "%s", v->child->string);
        item = cJSON_DetachItemViaPointer(v, v->child);
        cJSON_Delete(v);
        cJSON_DeleteItemFromObjectCaseSensitive(root, key);
        cJSON_AddItemToObject(root, key, item);
    }
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    assert_non_null(text);
    res = parse_ship(text);
    cJSON_free(text);
    return res;
}

static void test_webhook__ship_body_accepted(void **state)
{
    const char *body = SHIP_HEAD SHIP_GOOD_REST;
    struct webhook_shipment s = { 0 };

    (void)state;
    assert_int_equal(webhook_parse_ship_confirm(body, strlen(body), &s),
                     WEBHOOK_OK);
    assert_non_null(s.record);
    assert_string_equal(s.shipment_id, "SH778899");
    assert_string_equal(s.reference, "SC-163-5012001");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(s.record, "order_no")->valuestring,
        "SO123456");
    webhook_shipment_release(&s);
    assert_null(s.record);
}

static void test_webhook__ship_body_accepts_minimal_record(void **state)
{
    (void)state;
    assert_int_equal(parse_ship(SHIP_HEAD "\"reference\":\"SC-1-2\","
                                          "\"confirmed_at\":\"2026-12-01T17:"
                                          "04:00.123Z\",\"packages\":[],"
                                          "\"complete\":false}"),
                     WEBHOOK_OK);
}

static void test_webhook__ship_body_accepts_null_optionals(void **state)
{
    const char *fields[] = { "\"carrier\":null",
                             "\"service\":null",
                             "\"ship_date\":null",
                             "\"lines\":null",
                             "\"deposit_applied\":null",
                             "-carrier",
                             "-lines",
                             "\"deposit_applied\":\"48.1\"",
                             "\"packages\":[{\"tracking_no\":\"1\","
                             "\"weight_lb\":null}]" };

    (void)state;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_int_equal(parse_ship_with(fields[i]), WEBHOOK_OK);
}

static void test_webhook__ship_body_requires_fields(void **state)
{
    const char *fields[] = {
        "-shipment_id",
        "\"shipment_id\":\"\"",
        "\"shipment_id\":7",
        "-order_no",
        "\"order_no\":\"\"",
        "\"order_no\":null",
        "-reference",
        "\"reference\":\"\"",
        "\"reference\":163",
        "-confirmed_at",
        "\"confirmed_at\":1764608640",
        "-packages",
        "\"packages\":{}",
        "\"packages\":null",
        "-complete",
        "\"complete\":\"true\"",
        "\"complete\":1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_int_equal(parse_ship_with(fields[i]), WEBHOOK_BAD_JSON);
}

static void test_webhook__ship_body_checks_confirmed_at(void **state)
{
    const char *good[] = {
        "2026-12-01T17:04:00Z",      "2026-12-01t17:04:00z",
        "2026-12-01T17:04:00.1Z",    "2026-12-01T17:04:00.123456789Z",
        "2026-12-01T17:04:00+00:00", "2024-02-29T23:59:60Z"
    };
    const char *bad[] = { "2026-12-01T17:04:00",
                          "2026-12-01T17:04:00+01:00",
                          "2026-12-01 17:04:00Z",
                          "2026-13-01T17:04:00Z",
                          "2026-02-29T17:04:00Z",
                          "2026-04-31T17:04:00Z",
                          "2026-12-01T24:00:00Z",
                          "2026-12-01T17:60:00Z",
                          "2026-12-01T17:04:00.Z",
                          "2026-12-01T17:04:00.1234567890Z",
                          "2026-12-01",
                          "26-12-01T17:04:00Z",
                          "",
                          "2026-12-01T17:04:00ZZ",
                          "2026-00-01T17:04:00Z" };
    char field[128];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(field, sizeof(field), "\"confirmed_at\":\"%s\"", good[i]);
        assert_int_equal(parse_ship_with(field), WEBHOOK_OK);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(field, sizeof(field), "\"confirmed_at\":\"%s\"", bad[i]);
        assert_int_equal(parse_ship_with(field), WEBHOOK_BAD_JSON);
    }
}

static void test_webhook__ship_body_checks_packages(void **state)
{
    const char *fields[] = {
        "\"packages\":[1]",
        "\"packages\":[{}]",
        "\"packages\":[{\"tracking_no\":\"\"}]",
        "\"packages\":[{\"tracking_no\":12345}]",
        "\"packages\":[{\"tracking_no\":\"1Z\"},{\"tracking_no\":null}]",
        "\"packages\":[{\"tracking_no\":\"1Z\",\"weight_lb\":3.2}]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_int_equal(parse_ship_with(fields[i]), WEBHOOK_BAD_JSON);
    assert_int_equal(parse_ship_with("\"packages\":[{\"tracking_no\":\"A\"},"
                                     "{\"tracking_no\":\"B\",\"x\":1}]"),
                     WEBHOOK_OK);
}

static void test_webhook__ship_body_types_optional_fields(void **state)
{
    const char *fields[] = {
        "\"carrier\":1",
        "\"service\":true",
        "\"ship_date\":\"2026-12-1\"",
        "\"ship_date\":\"2026-12-01T00:00:00Z\"",
        "\"ship_date\":20261201",
        "\"deposit_applied\":48.18",
        "\"deposit_applied\":\"48.181\"",
        "\"deposit_applied\":\"48\"",
        "\"deposit_applied\":\"abc\"",
        "\"lines\":{}",
        "\"lines\":[1]",
        "\"lines\":[{\"line_no\":0}]",
        "\"lines\":[{\"line_no\":\"1\"}]",
        "\"lines\":[{\"line_no\":1.5}]",
        "\"lines\":[{\"product_no\":5}]",
        "\"lines\":[{\"qty_shipped\":-1}]",
        "\"lines\":[{\"qty_shipped\":\"2\"}]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_int_equal(parse_ship_with(fields[i]), WEBHOOK_BAD_JSON);
}

static void test_webhook__ship_body_ignores_foreign_reference(void **state)
{
    const char *refs[] = {
        "POS-123",        "SC-163",          "SC-163-",          "SC--5012001",
        "sc-163-5012001", "SC-163-5012001x", "XSC-163-5012001",  "SC-1-2-3",
        "SC-a-1",         "SC-163-501 2001", "SC-163-5012001\\n"
    };
    char field[128];

    (void)state;
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        snprintf(field, sizeof(field), "\"reference\":\"%s\"", refs[i]);
        assert_int_equal(parse_ship_with(field), WEBHOOK_IGNORED);
    }
    /* Shape first: a bad record with a foreign reference is bad_json. */
    assert_int_equal(parse_ship("{\"reference\":\"POS-1\"}"), WEBHOOK_BAD_JSON);
}

static void test_webhook__reference_filter(void **state)
{
    (void)state;
    assert_true(webhook_reference_is_ours("SC-163-5012001"));
    assert_true(webhook_reference_is_ours("SC-0-0"));
    assert_true(webhook_reference_is_ours("SC-00012345678901234567-9"));
    assert_false(webhook_reference_is_ours(""));
    assert_false(webhook_reference_is_ours("SC-"));
    assert_false(webhook_reference_is_ours("SC-1-"));
    assert_false(webhook_reference_is_ours("SC--1"));
    assert_false(webhook_reference_is_ours("SC-1-2\n"));
    assert_false(webhook_reference_is_ours(" SC-1-2"));
    assert_false(webhook_reference_is_ours("SC-+1-2"));
    assert_false(webhook_reference_is_ours("SC-1-2-3"));
    assert_false(webhook_reference_is_ours("Sc-1-2"));
}

/* ---- DDI items ---- */

static void test_webhook__items_body_accepted(void **state)
{
    const char *body = "{\"type\":\"items.changed\","
                       "\"product_nos\":[\"ABC-1\",\"ABC-2\",\"ABC-1\"]}";
    struct webhook_items *it = mem_malloc(sizeof(*it));

    (void)state;
    assert_non_null(it);
    assert_int_equal(webhook_parse_items(body, strlen(body), it), WEBHOOK_OK);
    assert_int_equal(it->n_product_nos, 2);
    assert_string_equal(it->product_nos[0], "ABC-1");
    assert_string_equal(it->product_nos[1], "ABC-2");
    mem_free(it);
}

/* A body with 'n' product numbers of 'len' bytes each, all distinct. */
static void items_body(struct buf *b, size_t n, size_t len)
{
    assert_int_equal(buf_puts(b, "{\"type\":\"items.changed\","
                                 "\"product_nos\":["),
                     SCB_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(
            buf_printf(b, "%s\"%0*zu\"", i ? "," : "", (int)len, i), SCB_OK);
    }
    assert_int_equal(buf_puts(b, "]}"), SCB_OK);
}

static void test_webhook__items_body_limits(void **state)
{
    struct webhook_items *it = mem_malloc(sizeof(*it));
    struct buf b;

    (void)state;
    assert_non_null(it);
    buf_init(&b, 1 << 20);
    items_body(&b, 500, WEBHOOK_PRODUCT_NO_MAX);
    assert_int_equal(webhook_parse_items(b.data, b.len, it), WEBHOOK_OK);
    assert_int_equal(it->n_product_nos, 500);
    assert_int_equal(strlen(it->product_nos[499]), WEBHOOK_PRODUCT_NO_MAX);
    buf_reset(&b);
    items_body(&b, 501, 5);
    assert_int_equal(webhook_parse_items(b.data, b.len, it), WEBHOOK_BAD_JSON);
    buf_reset(&b);
    items_body(&b, 1, WEBHOOK_PRODUCT_NO_MAX + 1);
    assert_int_equal(webhook_parse_items(b.data, b.len, it), WEBHOOK_BAD_JSON);
    buf_release(&b);
    mem_free(it);
}

static void test_webhook__items_body_counts_bytes(void **state)
{
    struct webhook_items *it = mem_malloc(sizeof(*it));
    struct buf b;

    (void)state;
    assert_non_null(it);
    buf_init(&b, 4096);
    /* 32 two-byte characters: 64 bytes, allowed; one more is 66. */
    assert_int_equal(buf_puts(&b, "{\"type\":\"items.changed\","
                                  "\"product_nos\":[\""),
                     SCB_OK);
    for (int i = 0; i < 32; i++)
        assert_int_equal(buf_puts(&b, "\xc3\xa9"), SCB_OK);
    assert_int_equal(buf_puts(&b, "\"]}"), SCB_OK);
    assert_int_equal(webhook_parse_items(b.data, b.len, it), WEBHOOK_OK);
    assert_int_equal(strlen(it->product_nos[0]), 64);
    buf_reset(&b);
    assert_int_equal(buf_puts(&b, "{\"type\":\"items.changed\","
                                  "\"product_nos\":[\"\xc3\xa9"),
                     SCB_OK);
    for (int i = 0; i < 32; i++)
        assert_int_equal(buf_puts(&b, "\xc3\xa9"), SCB_OK);
    assert_int_equal(buf_puts(&b, "\"]}"), SCB_OK);
    assert_int_equal(webhook_parse_items(b.data, b.len, it), WEBHOOK_BAD_JSON);
    buf_release(&b);
    mem_free(it);
}

static void test_webhook__items_body_rejects_bad_shapes(void **state)
{
    const char *bad[] = {
        "[]",
        "{}",
        "{\"product_nos\":[\"A\"]}",
        "{\"type\":\"item.changed\",\"product_nos\":[\"A\"]}",
        "{\"type\":null,\"product_nos\":[\"A\"]}",
        "{\"type\":\"items.changed\"}",
        "{\"type\":\"items.changed\",\"product_nos\":[]}",
        "{\"type\":\"items.changed\",\"product_nos\":\"A\"}",
        "{\"type\":\"items.changed\",\"product_nos\":[\"\"]}",
        "{\"type\":\"items.changed\",\"product_nos\":[1]}",
        "{\"type\":\"items.changed\",\"product_nos\":[\"A\",null]}",
        "{\"type\":\"items.changed\",\"product_nos\":[[\"A\"]]}",
        "{\"type\":\"items.changed\",\"product_nos\":[\"A\"]",
    };
    struct webhook_items *it = mem_malloc(sizeof(*it));

    (void)state;
    assert_non_null(it);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        it->n_product_nos = 99;
        assert_int_equal(webhook_parse_items(bad[i], strlen(bad[i]), it),
                         WEBHOOK_BAD_JSON);
        assert_int_equal(it->n_product_nos, 99);
    }
    mem_free(it);
}

/* ---- allocation failures ---- */

/*
 * Fails each allocation in turn. An allocation failure may end as 503
 * (our copy of the body) or as 400 (inside cJSON, which reports OOM as a
 * parse error); never as anything else, and never with a leak.
 */
static void test_webhook__survives_allocation_failures(void **state)
{
    const char *ship = SHIP_HEAD SHIP_GOOD_REST;
    const char *items = "{\"type\":\"items.changed\","
                        "\"product_nos\":[\"A\",\"B\"]}";
    struct webhook_sc_note note;
    struct webhook_shipment s = { 0 };
    struct webhook_items *it = mem_malloc(sizeof(*it));
    enum webhook_answer r1 = WEBHOOK_BAD_JSON, r2 = r1, r3 = r1;

    (void)state;
    assert_non_null(it);
    for (long n = 0; n < 1000 && (r1 || r2 || r3); n++) {
        mem_fail_after(n);
        r1 = parse_sc(body_sc, &note);
        r2 = webhook_parse_ship_confirm(ship, strlen(ship), &s);
        r3 = webhook_parse_items(items, strlen(items), it);
        mem_fail_after(-1);
        assert_true(r1 == WEBHOOK_OK || r1 == WEBHOOK_UNAVAILABLE ||
                    r1 == WEBHOOK_BAD_JSON);
        assert_true(r2 == WEBHOOK_OK || r2 == WEBHOOK_UNAVAILABLE ||
                    r2 == WEBHOOK_BAD_JSON);
        assert_true(r3 == WEBHOOK_OK || r3 == WEBHOOK_UNAVAILABLE ||
                    r3 == WEBHOOK_BAD_JSON);
        webhook_shipment_release(&s);
    }
    assert_int_equal(r1, WEBHOOK_OK);
    assert_int_equal(r2, WEBHOOK_OK);
    assert_int_equal(r3, WEBHOOK_OK);
    mem_free(it);
}

static void test_webhook__secret_decode_survives_alloc_failure(void **state)
{
    const char *text = "whsec_c2NicmlkZ2UtdGVzdC1rZXktc2M=";
    struct config_secret key = { NULL, 0 };
    enum scb_err err = SCB_ENOMEM;

    (void)state;
    for (long n = 0; n < 10 && err; n++) {
        mem_fail_after(n);
        err = webhook_secret_decode(text, strlen(text), &key);
        mem_fail_after(-1);
        assert_true(err == SCB_OK || err == SCB_ENOMEM);
        if (err)
            assert_null(key.bytes);
    }
    assert_int_equal(err, SCB_OK);
    mem_free_secret(key.bytes, key.len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook__answers_match_the_table),
        cmocka_unit_test(test_webhook__answers_are_distinct),
        cmocka_unit_test(test_webhook__sign_matches_published_example),
        cmocka_unit_test(test_webhook__verify_accepts_published_example),
        cmocka_unit_test(test_webhook__secret_decode_whsec_and_bare),
        cmocka_unit_test(test_webhook__secret_decode_rejects_bad_text),
        cmocka_unit_test(test_webhook__sign_refuses_empty_key),
        cmocka_unit_test(test_webhook__verify_accepts_good_signature),
        cmocka_unit_test(test_webhook__verify_accepts_any_of_several_secrets),
        cmocka_unit_test(test_webhook__verify_accepts_any_of_several_entries),
        cmocka_unit_test(test_webhook__verify_ignores_other_versions),
        cmocka_unit_test(test_webhook__verify_rejects_other_source_secret),
        cmocka_unit_test(test_webhook__verify_rejects_tampering),
        cmocka_unit_test(test_webhook__verify_rejects_truncated_entry),
        cmocka_unit_test(test_webhook__verify_without_secrets_fails),
        cmocka_unit_test(test_webhook__verify_rejects_stale_and_future),
        cmocka_unit_test(test_webhook__verify_stale_before_signature),
        cmocka_unit_test(test_webhook__verify_rejects_missing_headers),
        cmocka_unit_test(test_webhook__verify_rejects_malformed_id),
        cmocka_unit_test(test_webhook__verify_rejects_malformed_timestamp),
        cmocka_unit_test(test_webhook__verify_rejects_malformed_signature),
        cmocka_unit_test(test_webhook__sc_body_accepted),
        cmocka_unit_test(test_webhook__sc_body_accepts_each_type),
        cmocka_unit_test(test_webhook__sc_body_counts_duplicates_once),
        cmocka_unit_test(test_webhook__sc_body_rejects_bad_shapes),
        cmocka_unit_test(test_webhook__sc_body_rejects_embedded_nul),
        cmocka_unit_test(test_webhook__sc_body_limits_order_ids_to_500),
        cmocka_unit_test(test_webhook__sc_body_accepts_int32_extremes),
        cmocka_unit_test(test_webhook__sc_body_rejects_unknown_company),
        cmocka_unit_test(test_webhook__ship_body_accepted),
        cmocka_unit_test(test_webhook__ship_body_accepts_minimal_record),
        cmocka_unit_test(test_webhook__ship_body_accepts_null_optionals),
        cmocka_unit_test(test_webhook__ship_body_requires_fields),
        cmocka_unit_test(test_webhook__ship_body_checks_confirmed_at),
        cmocka_unit_test(test_webhook__ship_body_checks_packages),
        cmocka_unit_test(test_webhook__ship_body_types_optional_fields),
        cmocka_unit_test(test_webhook__ship_body_ignores_foreign_reference),
        cmocka_unit_test(test_webhook__reference_filter),
        cmocka_unit_test(test_webhook__items_body_accepted),
        cmocka_unit_test(test_webhook__items_body_limits),
        cmocka_unit_test(test_webhook__items_body_counts_bytes),
        cmocka_unit_test(test_webhook__items_body_rejects_bad_shapes),
        cmocka_unit_test(test_webhook__survives_allocation_failures),
        cmocka_unit_test(test_webhook__secret_decode_survives_alloc_failure),
    };

    mem_install_hooks();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
