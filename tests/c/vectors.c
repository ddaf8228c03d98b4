/*
 * imagor's public vectors through the C API, read straight from
 * testdata/vectors/NAME.json (tests/c/json.h):
 *
 * - signing.json, every case: imagor_signer_sign() gives expect_hash and
 *   imagor_signer_verify() accepts it (and refuses it for a wrong secret);
 *   cases with a secret also through a handle, imagor_sign() and (for
 *   hashes of 17 characters or more, which imagor's grammar needs to see a
 *   signature) imagor_verify() on "HASH/path".
 * - path_parse.json "parse", every case: imagor_parse() JSON equals
 *   `expect` (same members and values). `params` (the /params endpoint
 *   flag) is not part of imagor's Params JSON, so it is not compared.
 * - path_parse.json "generate", every case: imagor_generate() with the
 *   case's params text gives expect_path (GeneratePath: no secret, no
 *   unsafe; GenerateUnsafe: unsafe; Generate: the case's signer).
 */
#include "check.h"
#include "json.h"

static json_value load(const char *name, char **text) {
    char path[1024];
    size_t len = 0;
    const char *error = NULL;
    json_value doc;
    snprintf(path, sizeof path, "%s/vectors/%s", testdata_dir(), name);
    *text = read_file(path, &len);
    if (!*text || json_parse(*text, len, &doc, &error)) {
        fprintf(stderr, "cannot read %s: %s\n", path, *text ? error : "missing");
        exit(2);
    }
    return doc;
}

static const json_value *cases(const json_value *doc, const char *key) {
    const json_value *c = json_get(doc, key);
    if (!c || c->type != JSON_ARRAY || c->count == 0) {
        fprintf(stderr, "vector set %s missing\n", key);
        exit(2);
    }
    return c;
}

static void signing(void) {
    char *text;
    json_value doc = load("signing.json", &text);
    const json_value *set = cases(&doc, "cases");
    unsigned long via_handle = 0;
    for (size_t i = 0; i < set->count; i++) {
        const json_value *v = &set->items[i];
        const char *id = json_str(v, "id", "?");
        const char *path = json_str(v, "path", "");
        const char *secret = json_str(v, "secret", "");
        const char *alg = json_str(v, "alg", "sha1");
        size_t truncate = (size_t)json_num(v, "truncate", 0);
        const char *want = json_str(v, "expect_hash", "");

        char *hash = NULL;
        CHECK_STATUS(imagor_signer_sign(path, secret, alg, truncate, &hash), IMAGOR_STATUS_OK, id);
        CHECK(hash && !strcmp(hash, want), "%s: sign gave %s, want %s", id, hash ? hash : "(null)", want);
        imagor_string_free(hash);

        CHECK_STATUS(imagor_signer_verify(path, want, secret, alg, truncate), IMAGOR_STATUS_OK, id);
        CHECK_STATUS(imagor_signer_verify(path, want, "not-the-secret", alg, truncate),
                     IMAGOR_STATUS_SIGNATURE_MISMATCH, id);
        CHECK(imagor_last_error_status() == 403, "%s: mismatch status %u", id, imagor_last_error_status());

        /* A configured handle: signing strips one leading '/', and needs a secret. */
        if (*secret && path[0] != '/') {
            char quoted[512], opts[1024], request[4096];
            imagor *im = NULL;
            if (json_quote(quoted, sizeof quoted, secret)) {
                CHECK(0, "%s: secret too long for this test", id);
                continue;
            }
            snprintf(opts, sizeof opts, "{\"secret\":%s,\"signer_type\":\"%s\",\"signer_truncate\":%zu}",
                     quoted, alg, truncate);
            CHECK_STATUS(imagor_new(opts, &im), IMAGOR_STATUS_OK, id);
            if (!im) continue;
            hash = NULL;
            CHECK_STATUS(imagor_sign(im, path, &hash), IMAGOR_STATUS_OK, id);
            CHECK(hash && !strcmp(hash, want), "%s: handle sign gave %s, want %s", id, hash ? hash : "(null)", want);
            imagor_string_free(hash);
            /* imagor reads a first segment as a signature only from 17
             * characters on; shorter (truncated) ones cannot be requested. */
            if (strlen(want) >= 17) {
                snprintf(request, sizeof request, "%s/%s", want, path);
                CHECK_STATUS(imagor_verify(im, request), IMAGOR_STATUS_OK, id);
            }
            imagor_free(im);
            via_handle++;
        }
    }
    printf("signing.json: %zu cases (%lu also through a handle)\n", set->count, via_handle);
    json_free(&doc);
    free(text);
}

static void parse(const json_value *doc) {
    const json_value *set = cases(doc, "parse");
    for (size_t i = 0; i < set->count; i++) {
        const json_value *v = &set->items[i];
        const char *id = json_str(v, "id", "?");
        const json_value *path = json_get(v, "path");
        const json_value *expect = json_get(v, "expect");
        if (!path || path->type != JSON_STRING || !expect) {
            CHECK(0, "%s: malformed vector", id);
            continue;
        }
        char *out = NULL;
        CHECK_STATUS(imagor_parse(path->string, &out), IMAGOR_STATUS_OK, id);
        if (!out) continue;
        json_value got;
        const char *error = NULL;
        if (json_parse(out, strlen(out), &got, &error)) {
            CHECK(0, "%s: imagor_parse wrote invalid JSON (%s): %s", id, error, out);
        } else {
            CHECK(json_equal(&got, expect, "params"), "%s: path %s\n    got:  %s\n    want: %.*s", id,
                  path->string, out, (int)expect->raw_len, expect->raw);
            json_free(&got);
        }
        imagor_string_free(out);
    }
    printf("path_parse.json parse: %zu cases\n", set->count);
}

static void generate(const json_value *doc) {
    const json_value *set = cases(doc, "generate");
    for (size_t i = 0; i < set->count; i++) {
        const json_value *v = &set->items[i];
        const char *id = json_str(v, "id", "?");
        const char *fn = json_str(v, "fn", "");
        const char *want = json_str(v, "expect_path", NULL);
        const json_value *params = json_get(v, "params");
        if (!params || params->type != JSON_OBJECT || !want) {
            CHECK(0, "%s: malformed vector", id);
            continue;
        }
        /* The params object is handed over as it is written in the file. */
        char *params_json = malloc(params->raw_len + 1);
        if (!params_json) exit(2);
        memcpy(params_json, params->raw, params->raw_len);
        params_json[params->raw_len] = '\0';

        const char *secret = NULL, *alg = NULL;
        size_t truncate = 0;
        bool unsafe_ = false;
        if (!strcmp(fn, "GenerateUnsafe")) {
            unsafe_ = true;
        } else if (!strcmp(fn, "Generate")) {
            const json_value *signer = json_get(v, "signer");
            secret = json_str(signer, "secret", "");
            alg = json_str(signer, "alg", "sha1");
            truncate = (size_t)json_num(signer, "truncate", 0);
        } else if (strcmp(fn, "GeneratePath")) {
            CHECK(0, "%s: unknown fn %s", id, fn);
            free(params_json);
            continue;
        }
        char *out = NULL;
        CHECK_STATUS(imagor_generate(params_json, secret, alg, truncate, unsafe_, &out), IMAGOR_STATUS_OK, id);
        CHECK(out && !strcmp(out, want), "%s (%s): got %s, want %s", id, fn, out ? out : "(null)", want);
        imagor_string_free(out);
        free(params_json);
    }
    printf("path_parse.json generate: %zu cases\n", set->count);
}

int main(void) {
    signing();
    char *text;
    json_value doc = load("path_parse.json", &text);
    parse(&doc);
    generate(&doc);
    json_free(&doc);
    free(text);
    return check_summary("vectors");
}
