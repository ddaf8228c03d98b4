/*
 * Processing through the C API: a testdata image to WebP on a handle and
 * without one, checked by its bytes (RIFF/WEBP header, dimensions read
 * from the bitstream) and by imagor_meta(); /meta through a path; and
 * imagor_serve() with a file loader, signatures and a missing image.
 */
#include "check.h"
#include "json.h"

/* Width and height from a WebP's first chunk (VP8, VP8L or VP8X); 0 if not WebP. */
static int webp_size(const uint8_t *b, size_t n, unsigned *w, unsigned *h) {
    if (n < 30 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WEBP", 4)) return 0;
    if (!memcmp(b + 12, "VP8X", 4)) {
        *w = 1 + (b[24] | b[25] << 8 | (unsigned)b[26] << 16);
        *h = 1 + (b[27] | b[28] << 8 | (unsigned)b[29] << 16);
        return 1;
    }
    if (!memcmp(b + 12, "VP8 ", 4) && b[23] == 0x9d && b[24] == 0x01 && b[25] == 0x2a) {
        *w = (b[26] | b[27] << 8) & 0x3fff;
        *h = (b[28] | b[29] << 8) & 0x3fff;
        return 1;
    }
    if (!memcmp(b + 12, "VP8L", 4) && b[20] == 0x2f) {
        uint32_t bits = b[21] | b[22] << 8 | (uint32_t)b[23] << 16 | (uint32_t)b[24] << 24;
        *w = 1 + (bits & 0x3fff);
        *h = 1 + ((bits >> 14) & 0x3fff);
        return 1;
    }
    return 0;
}

/* Width and height from a PNG's IHDR; 0 if not PNG. */
static int png_size(const uint8_t *b, size_t n, unsigned *w, unsigned *h) {
    if (n < 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4)) return 0;
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    return 1;
}

/* imagor_meta() of a buffer, checked against format and size. */
static void check_meta(const imagor *im, const uint8_t *data, size_t len, const char *path, const char *format,
                       const char *content_type, double width, double height, const char *what) {
    char *json = NULL;
    CHECK_STATUS(imagor_meta(im, data, len, path, &json), IMAGOR_STATUS_OK, what);
    if (!json) return;
    json_value meta;
    const char *error = NULL;
    if (json_parse(json, strlen(json), &meta, &error)) {
        CHECK(0, "%s: meta is not JSON (%s): %s", what, error, json);
    } else {
        CHECK(!strcmp(json_str(&meta, "format", ""), format), "%s: format in %s", what, json);
        CHECK(!strcmp(json_str(&meta, "content_type", ""), content_type), "%s: content_type in %s", what, json);
        CHECK(json_num(&meta, "width", -1) == width, "%s: width in %s, want %g", what, json, width);
        CHECK(json_num(&meta, "height", -1) == height, "%s: height in %s, want %g", what, json, height);
        json_free(&meta);
    }
    imagor_string_free(json);
}

static void process_to_webp(const imagor *im) {
    size_t len;
    uint8_t *png = read_testdata("gopher.png", &len); /* 1634x2224 RGBA */
    const char *path = "fit-in/300x300/filters:format(webp)";

    check_meta(im, png, len, "", "png", "image/png", 1634, 2224, "source meta");

    imagor_bytes out = {NULL, 0};
    char *content_type = NULL;
    CHECK_STATUS(imagor_process(im, png, len, path, &out, &content_type), IMAGOR_STATUS_OK, "process");
    CHECK(content_type && !strcmp(content_type, "image/webp"), "content type %s", content_type ? content_type : "(null)");
    unsigned w = 0, h = 0;
    CHECK(webp_size(out.data, out.len, &w, &h), "output is not WebP (%zu bytes)", out.len);
    CHECK(w == 220 && h == 300, "WebP bitstream says %ux%u, want 220x300", w, h);
    check_meta(im, out.data, out.len, "", "webp", "image/webp", 220, 300, "output meta");

    /* The same without a handle: imagor's defaults give the same bytes. */
    imagor_bytes again = {NULL, 0};
    if (!slow_run()) {
        CHECK_STATUS(imagor_process_default(png, len, path, &again, NULL), IMAGOR_STATUS_OK, "process_default");
        CHECK(again.len == out.len && again.len && !memcmp(again.data, out.data, out.len),
              "process_default differs from process (%zu vs %zu bytes)", again.len, out.len);
    }

    /* meta after a path, and a meta/ path through process. */
    check_meta(im, png, len, "fit-in/100x100/filters:format(jpeg)", "jpeg", "image/jpeg", 73, 100, "meta with path");
    imagor_bytes meta = {NULL, 0};
    char *meta_type = NULL;
    CHECK_STATUS(imagor_process(im, png, len, "meta/fit-in/100x100", &meta, &meta_type), IMAGOR_STATUS_OK,
                 "meta/ path");
    CHECK(meta_type && !strcmp(meta_type, "application/json"), "meta/ content type %s", meta_type ? meta_type : "");
    CHECK(meta.len > 2 && meta.data[0] == '{', "meta/ body");

    imagor_bytes_free(&meta);
    imagor_string_free(meta_type);
    imagor_bytes_free(&again);
    imagor_bytes_free(&out);
    CHECK(out.data == NULL && out.len == 0, "imagor_bytes_free resets the buffer");
    imagor_bytes_free(&out); /* a second free is harmless */
    imagor_string_free(content_type);
    free(png);
}

static void serve(void) {
    char opts[2048], quoted[1024], request[1024], merged[2300];
    imagor *im = NULL;
    if (json_quote(quoted, sizeof quoted, testdata_dir())) exit(2);
    snprintf(opts, sizeof opts, "{\"secret\":\"mysecret\",\"file_loader_base_dir\":%s}", quoted);
    CHECK_STATUS(imagor_new(test_options(merged, sizeof merged, opts), &im), IMAGOR_STATUS_OK,
                 "imagor_new with a file loader");
    if (!im) return;

    const char *path = "fit-in/64x64/filters:format(png)/gopher-front.png"; /* 202x259 */
    char *hash = NULL;
    CHECK_STATUS(imagor_sign(im, path, &hash), IMAGOR_STATUS_OK, "sign");
    snprintf(request, sizeof request, "%s/%s", hash ? hash : "", path);
    imagor_string_free(hash);

    imagor_bytes out = {NULL, 0};
    char *content_type = NULL;
    CHECK_STATUS(imagor_serve(im, request, &out, &content_type), IMAGOR_STATUS_OK, "serve signed");
    unsigned w = 0, h = 0;
    CHECK(png_size(out.data, out.len, &w, &h) && w == 50 && h == 64, "served PNG is %ux%u, want 50x64", w, h);
    CHECK(content_type && !strcmp(content_type, "image/png"), "served content type");
    imagor_bytes_free(&out);
    imagor_string_free(content_type);

    uint8_t *untouched = (uint8_t *)request;
    out.data = untouched;
    out.len = 7;
    snprintf(request, sizeof request, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=/%s", path);
    CHECK_STATUS(imagor_serve(im, request, &out, NULL), IMAGOR_STATUS_SIGNATURE_MISMATCH, "serve forged");
    CHECK(imagor_last_error_status() == 403, "forged: HTTP %u", imagor_last_error_status());
    CHECK(!strcmp(imagor_last_error_message(), "url signature mismatch"), "forged: %s", imagor_last_error_message());
    snprintf(request, sizeof request, "unsafe/%s", path);
    CHECK_STATUS(imagor_serve(im, request, &out, NULL), IMAGOR_STATUS_SIGNATURE_MISMATCH, "unsafe not allowed");
    CHECK_STATUS(imagor_verify(im, request), IMAGOR_STATUS_SIGNATURE_MISMATCH, "verify unsafe");
    CHECK(out.data == untouched && out.len == 7, "failed serve left the output alone");

    const char *missing = "fit-in/64x64/no-such-image.png";
    hash = NULL;
    CHECK_STATUS(imagor_sign(im, missing, &hash), IMAGOR_STATUS_OK, "sign missing");
    snprintf(request, sizeof request, "%s/%s", hash ? hash : "", missing);
    imagor_string_free(hash);
    CHECK_STATUS(imagor_serve(im, request, &out, NULL), IMAGOR_STATUS_NOT_FOUND, "serve missing");
    CHECK(imagor_last_error_status() == 404, "missing: HTTP %u", imagor_last_error_status());
    /* The message names the key that was looked up (not the base dir). */
    CHECK(!strcmp(imagor_last_error_message(), "not found: no-such-image.png"), "missing: %s",
          imagor_last_error_message());
    imagor_free(im);
}

int main(void) {
    imagor *im = NULL;
    char merged[256];
    CHECK(!strcmp(imagor_version(), IMAGOR_VERSION), "library %s, header %s", imagor_version(), IMAGOR_VERSION);
    CHECK_STATUS(imagor_new(test_options(merged, sizeof merged, ""), &im), IMAGOR_STATUS_OK, "imagor_new defaults");
    if (im) process_to_webp(im);
    imagor_free(im);
    serve();
    return check_summary("process");
}
