/*
 * Region detectors through the C API: imagor_new_with_detectors() with a
 * callback that answers imagor's stub regions. A golden (redact(black),
 * pixel-exact) and /meta's detected_regions through it; a failing
 * callback and unusable regions as IMAGOR_STATUS_DETECTOR; `release`
 * called once when the handle is freed; a NULL callback refused.
 */
#include <math.h>

#include "check.h"
#include "json.h"

typedef struct {
    int calls;
    int released;
    int mode; /* 0: stub regions, 1: fail, 2: NaN, 3: too many */
    unsigned last_w, last_h, last_bands;
} stub;

static int detect(void *user_data, const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t bands,
                  imagor_region *out, size_t capacity) {
    stub *s = user_data;
    s->calls++;
    s->last_w = width;
    s->last_h = height;
    s->last_bands = bands;
    if (!pixels || capacity < 2) return -2;
    switch (s->mode) {
    case 1:
        return -1;
    case 2:
        out[0] = (imagor_region){NAN, 0, 1, 1, 0, NULL};
        return 1;
    case 3:
        return (int)capacity + 1;
    }
    /* imagor's test stub (processor_test.go): a face and an eye. */
    out[0] = (imagor_region){0.1, 0.1, 0.4, 0.6, 9.5, "face"};
    out[1] = (imagor_region){0.6, 0.05, 0.9, 0.55, 0, "eye"};
    return 2;
}

static void release(void *user_data) { ((stub *)user_data)->released++; }

/* Both images re-encoded by libvips with the same settings: equal bytes mean equal pixels. */
static int same_pixels(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    const char *norm = "filters:strip_metadata():format(png)";
    imagor_bytes x = {NULL, 0}, y = {NULL, 0};
    int same = imagor_process_default(a, alen, norm, &x, NULL) == IMAGOR_STATUS_OK &&
               imagor_process_default(b, blen, norm, &y, NULL) == IMAGOR_STATUS_OK && x.len == y.len &&
               !memcmp(x.data, y.data, x.len);
    imagor_bytes_free(&x);
    imagor_bytes_free(&y);
    return same;
}

static imagor *with_stub(stub *s) {
    char opts[2048], quoted[1024];
    if (json_quote(quoted, sizeof quoted, testdata_dir())) exit(2);
    /* Generous time budget: the test also runs under valgrind. */
    snprintf(opts, sizeof opts, "{\"unsafe\":true,\"process_timeout\":\"120s\",\"file_loader_base_dir\":%s}", quoted);
    imagor_detector d = {detect, s, release};
    imagor *im = NULL;
    CHECK_STATUS(imagor_new_with_detectors(opts, &d, 1, &im), IMAGOR_STATUS_OK, "imagor_new_with_detectors");
    return im;
}

static void golden(void) {
    stub s = {0};
    imagor *im = with_stub(&s);
    if (!im) return;
    size_t glen = 0;
    uint8_t *want = read_testdata("golden/redact/filters%3Aredact%28black%29/gopher-front.png", &glen);
    imagor_bytes out = {NULL, 0};
    CHECK_STATUS(imagor_serve(im, "unsafe/filters:redact(black)/gopher-front.png", &out, NULL), IMAGOR_STATUS_OK,
                 "serve redact(black)");
    CHECK(same_pixels(out.data, out.len, want, glen), "redact(black) matches imagor's golden");
    CHECK(s.calls == 1 && s.last_bands == 4 && s.last_w <= 400 && s.last_h <= 400, "one probe call, %ux%ux%u",
          s.last_w, s.last_h, s.last_bands);
    imagor_bytes_free(&out);

    size_t len = 0;
    uint8_t *png = read_testdata("gopher-front.png", &len); /* 202x259 */
    char *json = NULL;
    CHECK_STATUS(imagor_meta(im, png, len, "filters:draw_detections()", &json), IMAGOR_STATUS_OK, "meta");
    json_value meta;
    const char *error = NULL;
    if (json && !json_parse(json, strlen(json), &meta, &error)) {
        const json_value *regions = json_get(&meta, "detected_regions");
        CHECK(regions && regions->type == JSON_ARRAY && regions->count == 2, "two detected regions: %s", json);
        if (regions && regions->count == 2) {
            CHECK(!strcmp(json_str(&regions->items[0], "name", ""), "face") &&
                      json_num(&regions->items[0], "left", -1) == 20 &&
                      json_num(&regions->items[0], "bottom", -1) == 155 &&
                      json_num(&regions->items[0], "score", -1) == 9.5,
                  "face region in pixels: %s", json);
            CHECK(!strcmp(json_str(&regions->items[1], "name", ""), "eye"), "eye region");
        }
        json_free(&meta);
    } else {
        CHECK(0, "meta is JSON (%s)", error ? error : "no output");
    }
    imagor_string_free(json);
    CHECK(s.released == 0, "not released while the handle lives");
    imagor_free(im);
    CHECK(s.released == 1, "released once by imagor_free (%d)", s.released);
    free(want);
    free(png);
}

static void failures(void) {
    size_t len = 0;
    uint8_t *png = read_testdata("gopher-front.png", &len);
    const struct {
        int mode;
        const char *message;
    } cases[] = {{1, "failed (-1)"}, {2, "non-finite"}, {3, "more than"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        stub s = {.mode = cases[i].mode};
        imagor *im = with_stub(&s);
        if (!im) continue;
        imagor_bytes out = {NULL, 0};
        CHECK_STATUS(imagor_process(im, png, len, "filters:redact()", &out, NULL), IMAGOR_STATUS_DETECTOR,
                     cases[i].message);
        CHECK(imagor_last_error_status() == 500, "HTTP %u", imagor_last_error_status());
        CHECK(strstr(imagor_last_error_message(), cases[i].message) != NULL, "message %s",
              imagor_last_error_message());
        CHECK(out.data == NULL, "no output on failure");
        /* Not asked for: the detector is not called. */
        int before = s.calls;
        CHECK_STATUS(imagor_process(im, png, len, "fit-in/20x20", &out, NULL), IMAGOR_STATUS_OK, "no detection");
        CHECK(s.calls == before, "detector not called without smart/redact/draw_detections");
        imagor_bytes_free(&out);
        imagor_free(im);
    }
    imagor_detector null_detect = {NULL, NULL, NULL};
    imagor *im = NULL;
    CHECK_STATUS(imagor_new_with_detectors("", &null_detect, 1, &im), IMAGOR_STATUS_NULL_ARGUMENT, "NULL detect");
    CHECK_STATUS(imagor_new_with_detectors("", NULL, 1, &im), IMAGOR_STATUS_NULL_ARGUMENT, "NULL detectors");
    CHECK(im == NULL, "no handle on failure");
    CHECK_STATUS(imagor_new_with_detectors("", NULL, 0, &im), IMAGOR_STATUS_OK, "no detectors");
    imagor_free(im);
    free(png);
}

int main(void) {
    golden();
    failures();
    return check_summary("detectors");
}
