/*
 * The error contract of ffi/README.md, call by call: NULL arguments, a
 * zero-length buffer, a path that is not UTF-8, random bytes as an image
 * and bad JSON each give their status, message and HTTP status, and leave
 * every out-parameter as it was. Frees accept NULL; names and versions.
 */
#include "check.h"
#include "json.h"

/* Sentinels: what the out-parameters hold before each call. */
static char sentinel_text[] = "untouched";
#define SENTINEL_STR (sentinel_text)
#define SENTINEL_BYTES ((uint8_t *)sentinel_text)

static char *out_str;
static imagor_bytes out_bytes;
static char *out_type;
static imagor *out_handle;

static void reset_outs(void) {
    out_str = SENTINEL_STR;
    out_bytes.data = SENTINEL_BYTES;
    out_bytes.len = 42;
    out_type = SENTINEL_STR;
    out_handle = (imagor *)sentinel_text;
}

static int outs_untouched(void) {
    return out_str == SENTINEL_STR && out_bytes.data == SENTINEL_BYTES && out_bytes.len == 42 &&
           out_type == SENTINEL_STR && out_handle == (imagor *)sentinel_text;
}

/* A call's status, message and HTTP status, and untouched outputs. */
static void expect_failure(imagor_status got, imagor_status want, const char *message, unsigned http,
                           const char *what) {
    CHECK_STATUS(got, want, what);
    CHECK(!strcmp(imagor_last_error_message(), message), "%s: message \"%s\", want \"%s\"", what,
          imagor_last_error_message(), message);
    CHECK(imagor_last_error_status() == http, "%s: HTTP %u, want %u", what, imagor_last_error_status(), http);
    CHECK(outs_untouched(), "%s: an out-parameter was written on failure", what);
}

#define NULL_ARG(call, arg) \
    do { reset_outs(); expect_failure((call), IMAGOR_STATUS_NULL_ARGUMENT, "NULL argument: " arg, 500, #call); } while (0)

static void null_arguments(const imagor *im, const uint8_t *png, size_t len) {
    const char *p = "fit-in/10x10";
    NULL_ARG(imagor_new(NULL, &out_handle), "options_json");
    NULL_ARG(imagor_new("", NULL), "out");
    NULL_ARG(imagor_parse(NULL, &out_str), "path");
    NULL_ARG(imagor_parse(p, NULL), "out_json");
    NULL_ARG(imagor_generate(NULL, NULL, NULL, 0, false, &out_str), "params_json");
    NULL_ARG(imagor_generate("{}", NULL, NULL, 0, false, NULL), "out_path");
    NULL_ARG(imagor_signer_sign(NULL, "s", NULL, 0, &out_str), "path");
    NULL_ARG(imagor_signer_sign(p, NULL, NULL, 0, &out_str), "secret");
    NULL_ARG(imagor_signer_sign(p, "s", NULL, 0, NULL), "out_hash");
    NULL_ARG(imagor_signer_verify(NULL, "h", "s", NULL, 0), "path");
    NULL_ARG(imagor_signer_verify(p, NULL, "s", NULL, 0), "hash");
    NULL_ARG(imagor_signer_verify(p, "h", NULL, NULL, 0), "secret");
    NULL_ARG(imagor_sign(NULL, p, &out_str), "im");
    NULL_ARG(imagor_sign(im, NULL, &out_str), "path");
    NULL_ARG(imagor_sign(im, p, NULL), "out_hash");
    NULL_ARG(imagor_verify(NULL, p), "im");
    NULL_ARG(imagor_verify(im, NULL), "path");
    NULL_ARG(imagor_process(NULL, png, len, p, &out_bytes, &out_type), "im");
    NULL_ARG(imagor_process(im, NULL, len, p, &out_bytes, &out_type), "data");
    NULL_ARG(imagor_process(im, NULL, 0, p, &out_bytes, &out_type), "data");
    NULL_ARG(imagor_process(im, png, len, NULL, &out_bytes, &out_type), "path");
    NULL_ARG(imagor_process(im, png, len, p, NULL, &out_type), "out");
    NULL_ARG(imagor_process_default(NULL, len, p, &out_bytes, &out_type), "data");
    NULL_ARG(imagor_process_default(png, len, NULL, &out_bytes, &out_type), "path");
    NULL_ARG(imagor_process_default(png, len, p, NULL, &out_type), "out");
    NULL_ARG(imagor_meta(NULL, png, len, "", &out_str), "im");
    NULL_ARG(imagor_meta(im, NULL, len, "", &out_str), "data");
    NULL_ARG(imagor_meta(im, png, len, NULL, &out_str), "path");
    NULL_ARG(imagor_meta(im, png, len, "", NULL), "out_json");
    NULL_ARG(imagor_serve(NULL, p, &out_bytes, &out_type), "im");
    NULL_ARG(imagor_serve(im, NULL, &out_bytes, &out_type), "path");
    NULL_ARG(imagor_serve(im, p, NULL, &out_type), "out");
}

static void bad_input(const imagor *im) {
    /* A zero-length buffer (valid pointer, len 0): an empty source, which
     * imagor answers with 404 "not found" as for an empty blob. */
    static const uint8_t empty[1] = {0};
    reset_outs();
    expect_failure(imagor_process(im, empty, 0, "fit-in/10x10", &out_bytes, &out_type), IMAGOR_STATUS_NOT_FOUND,
                   "not found", 404, "zero-length buffer");
    reset_outs();
    expect_failure(imagor_meta(im, empty, 0, "", &out_str), IMAGOR_STATUS_NOT_FOUND, "not found", 404,
                   "zero-length buffer meta");
    reset_outs();
    expect_failure(imagor_process_default(empty, 0, "", &out_bytes, &out_type), IMAGOR_STATUS_NOT_FOUND,
                   "not found", 404, "zero-length buffer, no handle");

    /* Random bytes as an image (a fixed LCG stream, so every run is the same). */
    uint8_t noise[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (uint8_t)(x >> 16);
    }
    reset_outs();
    expect_failure(imagor_process(im, noise, sizeof noise, "fit-in/10x10", &out_bytes, &out_type),
                   IMAGOR_STATUS_UNSUPPORTED_FORMAT, "unsupported format", 406, "random bytes");
    reset_outs();
    expect_failure(imagor_process_default(noise, sizeof noise, "", &out_bytes, &out_type),
                   IMAGOR_STATUS_UNSUPPORTED_FORMAT, "unsupported format", 406, "random bytes, no handle");

    /* Text that is not UTF-8: a lone continuation byte, a truncated sequence, an overlong '/'. */
    const char *not_utf8[] = {"fit-in/10x10/\x80.jpg", "caf\xc3", "\300\257etc/passwd"};
    for (size_t i = 0; i < sizeof not_utf8 / sizeof *not_utf8; i++) {
        const char *bad = not_utf8[i];
        reset_outs();
        expect_failure(imagor_parse(bad, &out_str), IMAGOR_STATUS_INVALID_UTF8, "invalid UTF-8 in argument: path", 400,
                       "parse non-UTF-8");
        reset_outs();
        expect_failure(imagor_process(im, noise, sizeof noise, bad, &out_bytes, &out_type), IMAGOR_STATUS_INVALID_UTF8,
                       "invalid UTF-8 in argument: path", 400, "process non-UTF-8");
        reset_outs();
        expect_failure(imagor_serve(im, bad, &out_bytes, &out_type), IMAGOR_STATUS_INVALID_UTF8,
                       "invalid UTF-8 in argument: path", 400, "serve non-UTF-8");
        reset_outs();
        expect_failure(imagor_signer_sign("p", bad, NULL, 0, &out_str), IMAGOR_STATUS_INVALID_UTF8,
                       "invalid UTF-8 in argument: secret", 400, "sign non-UTF-8 secret");
    }

    /* Bad JSON and values. */
    reset_outs();
    expect_failure(imagor_generate("{\"width\":", NULL, NULL, 0, false, &out_str), IMAGOR_STATUS_INVALID,
                   "invalid params JSON: EOF while parsing a value at line 1 column 9", 400, "truncated params");
    reset_outs();
    expect_failure(imagor_generate("{}", "s", NULL, 0, true, &out_str), IMAGOR_STATUS_INVALID,
                   "generate takes a secret or unsafe, not both", 400, "secret and unsafe");
    reset_outs();
    expect_failure(imagor_signer_sign("p", "s", "md5", 0, &out_str), IMAGOR_STATUS_INVALID,
                   "unknown signer type \"md5\": expected sha1, sha256 or sha512", 400, "unknown signer");
    reset_outs();
    CHECK_STATUS(imagor_new("{\"max_widht\":10}", &out_handle), IMAGOR_STATUS_INVALID, "unknown option");
    CHECK(strstr(imagor_last_error_message(), "max_widht") != NULL, "message names the field: %s",
          imagor_last_error_message());
    CHECK(outs_untouched(), "imagor_new wrote its out-parameter on failure");
    reset_outs();
    CHECK_STATUS(imagor_sign(im, "a.jpg", &out_str), IMAGOR_STATUS_INVALID, "sign without a secret");
    CHECK(outs_untouched(), "imagor_sign wrote on failure");
    reset_outs();
    expect_failure(imagor_signer_verify("p", "wrong", "s", NULL, 0), IMAGOR_STATUS_SIGNATURE_MISMATCH,
                   "url signature mismatch", 403, "verify mismatch");

    /* Success clears the last error. */
    char *json = NULL;
    CHECK_STATUS(imagor_parse("unsafe/a.jpg", &json), IMAGOR_STATUS_OK, "parse");
    CHECK(!strcmp(imagor_last_error_message(), "") && imagor_last_error_status() == 0, "success clears the error");
    imagor_string_free(json);
}

static void names_and_frees(void) {
    static const struct { int status; const char *name; } names[] = {
        {IMAGOR_STATUS_OK, "ok"},
        {IMAGOR_STATUS_NOT_FOUND, "not_found"},
        {IMAGOR_STATUS_INVALID, "invalid"},
        {IMAGOR_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed"},
        {IMAGOR_STATUS_SOURCE_NOT_ALLOWED, "source_not_allowed"},
        {IMAGOR_STATUS_SIGNATURE_MISMATCH, "signature_mismatch"},
        {IMAGOR_STATUS_TIMEOUT, "timeout"},
        {IMAGOR_STATUS_EXPIRED, "expired"},
        {IMAGOR_STATUS_UNSUPPORTED_FORMAT, "unsupported_format"},
        {IMAGOR_STATUS_MAX_SIZE_EXCEEDED, "max_size_exceeded"},
        {IMAGOR_STATUS_MAX_RESOLUTION_EXCEEDED, "max_resolution_exceeded"},
        {IMAGOR_STATUS_TOO_MANY_REQUESTS, "too_many_requests"},
        {IMAGOR_STATUS_PROCESSING, "processing"},
        {IMAGOR_STATUS_STATUS, "status"},
        {IMAGOR_STATUS_INTERNAL, "internal"},
        {IMAGOR_STATUS_LIMIT_EXCEEDED, "limit_exceeded"},
        {IMAGOR_STATUS_CANCELLED, "cancelled"},
        {IMAGOR_STATUS_DETECTOR, "detector"},
        {IMAGOR_STATUS_NULL_ARGUMENT, "null_argument"},
        {IMAGOR_STATUS_INVALID_UTF8, "invalid_utf8"},
        {IMAGOR_STATUS_PANIC, "panic"},
        {-1, "unknown"},
        {18, "unknown"},
        {99, "unknown"},
        {103, "unknown"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK(!strcmp(imagor_status_str(names[i].status), names[i].name), "imagor_status_str(%d) = %s, want %s",
              names[i].status, imagor_status_str(names[i].status), names[i].name);
    CHECK(IMAGOR_STATUS_NULL_ARGUMENT == 100 && IMAGOR_STATUS_INVALID_UTF8 == 101 && IMAGOR_STATUS_PANIC == 102,
          "boundary statuses keep their numbers");

    imagor_free(NULL);
    imagor_bytes_free(NULL);
    imagor_string_free(NULL);
    imagor_bytes empty = {NULL, 0};
    imagor_bytes_free(&empty);
    CHECK(1, "every free accepts NULL");

    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", IMAGOR_VERSION_MAJOR, IMAGOR_VERSION_MINOR, IMAGOR_VERSION_PATCH);
    CHECK(!strcmp(version, IMAGOR_VERSION) && !strcmp(imagor_version(), IMAGOR_VERSION), "version %s / %s / %s",
          version, IMAGOR_VERSION, imagor_version());
}

/* With a handle made from `opts`: processing `png` by `path` (or serving
 * `path` when `png` is NULL) is refused with LIMIT_EXCEEDED (422), a
 * message containing `needle`, and no out-parameter written. */
static void over_a_memory_limit(const char *opts, const uint8_t *png, size_t len, const char *path,
                                const char *needle, const char *what) {
    imagor *im = NULL;
    CHECK_STATUS(imagor_new(opts, &im), IMAGOR_STATUS_OK, what);
    if (!im) return;
    reset_outs();
    CHECK_STATUS(png ? imagor_process(im, png, len, path, &out_bytes, &out_type)
                     : imagor_serve(im, path, &out_bytes, &out_type),
                 IMAGOR_STATUS_LIMIT_EXCEEDED, what);
    CHECK(strstr(imagor_last_error_message(), needle) != NULL, "%s: %s", what, imagor_last_error_message());
    CHECK(imagor_last_error_status() == 422, "%s: HTTP %u", what, imagor_last_error_status());
    CHECK(outs_untouched(), "an out-parameter was written on failure");
    imagor_free(im);
}

/* The per-call budget from the options JSON: a timeout (408) and memory
 * limits, the call's and the process's (422, LIMIT_EXCEEDED), that name
 * their option. */
static void budget(const uint8_t *png, size_t len) {
    imagor *tight = NULL;
    CHECK_STATUS(imagor_new("{\"process_timeout\":\"300ms\",\"max_memory\":1000000}", &tight), IMAGOR_STATUS_OK,
                 "imagor_new with a budget");
    if (!tight) return;
    reset_outs();
    CHECK_STATUS(imagor_process(tight, png, len, "2000x2000/filters:blur(0,1000)/color:red", &out_bytes, &out_type),
                 IMAGOR_STATUS_TIMEOUT, "blur over the time budget");
    CHECK(strstr(imagor_last_error_message(), "process_timeout (300ms)") != NULL, "timeout message: %s",
          imagor_last_error_message());
    CHECK(imagor_last_error_status() == 408, "timeout HTTP %u", imagor_last_error_status());
    imagor_free(tight);
    /* No time limit here: under valgrind, 300 ms would end the call first.
     * A 1000x1000 frame held by the WebP encoder: about 8 MB, over 1 MB. */
    over_a_memory_limit("{\"process_timeout\":\"0s\",\"max_memory\":1000000}", png, len,
                        "1000x1000/filters:format(webp)", "max_memory", "encode over the memory budget");
    /* The memory all calls share: one call over it alone is a 422 too. */
    over_a_memory_limit("{\"process_timeout\":\"0s\",\"max_total_memory\":1000000}", png, len,
                        "1000x1000/filters:format(webp)", "max_total_memory",
                        "encode over the total memory budget");
    /* A source file counts against it on its size, before it is read. */
    char opts[2048], quoted[1024];
    if (json_quote(quoted, sizeof quoted, testdata_dir())) exit(2);
    snprintf(opts, sizeof opts, "{\"unsafe\":true,\"max_total_memory\":1048576,\"file_loader_base_dir\":%s}",
             quoted);
    over_a_memory_limit(opts, NULL, 0, "unsafe/50x50/jpg-24bit-icc-adobe-rgb.jpg",
                        "the image file needs about 1.2 MiB", "a source file over the total memory budget");
}

static int no_regions(void *user_data, const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t bands,
                      imagor_region *out, size_t capacity) {
    (void)user_data, (void)pixels, (void)width, (void)height, (void)bands, (void)out, (void)capacity;
    return 0;
}

/* Sizes no caller can mean: a detector count no array can hold (a slice of
 * it was undefined behaviour, an abort in debug builds), and a path longer
 * than the server reads given to imagor_verify (parsed whole before: a
 * 64 MB path took seconds). Both are refused at once with a 400. */
static void impossible_sizes(const imagor *im) {
    imagor_detector d = {no_regions, NULL, NULL};
    reset_outs();
    CHECK_STATUS(imagor_new_with_detectors("", &d, SIZE_MAX, &out_handle), IMAGOR_STATUS_INVALID,
                 "SIZE_MAX detectors");
    CHECK(strstr(imagor_last_error_message(), "count") != NULL, "the message names the count: %s",
          imagor_last_error_message());
    CHECK(imagor_last_error_status() == 400 && outs_untouched(), "SIZE_MAX detectors: HTTP %u, outputs untouched",
          imagor_last_error_status());
    size_t n = 70000;
    char *path = malloc(n + 1);
    if (!path) exit(2);
    for (size_t i = 0; i < n; i++) path[i] = i % 2 ? '/' : 'a';
    path[n] = 0;
    CHECK_STATUS(imagor_verify(im, path), IMAGOR_STATUS_INVALID, "verify of a 70 000-byte path");
    CHECK(strstr(imagor_last_error_message(), "longer than 65534") != NULL, "verify: %s", imagor_last_error_message());
    free(path);
}

int main(void) {
    size_t len;
    uint8_t *png = read_testdata("gopher-front.png", &len);
    imagor *im = NULL;
    CHECK_STATUS(imagor_new("{\"unsafe\":true}", &im), IMAGOR_STATUS_OK, "imagor_new");
    if (!im) return check_summary("errors");
    null_arguments(im, png, len);
    bad_input(im);
    budget(png, len);
    impossible_sizes(im);
    names_and_frees();
    imagor_free(im);
    free(png);
    return check_summary("errors");
}
