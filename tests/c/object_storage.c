/*
 * S3 through the C API against a real S3 server (s3s-fs, started by
 * ffi/tests/run.sh with tests/services/s3.sh): a handle with a file
 * loader and an S3 storage keeps the source in the bucket; a second handle
 * with only an S3 loader (`s3_loader_bucket`, `s3_endpoint`, path style,
 * keys) serves it; a missing object is NOT_FOUND and a wrong secret 403.
 * Environment: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
 */
#include "check.h"
#include "json.h"

static const char *need(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "object_storage: %s is not set (start tests/services/s3.sh first)\n", name);
        exit(2);
    }
    return v;
}

/* JSON options: `extra` (without braces) plus the S3 connection. */
static void options(char *buf, size_t n, const char *extra, const char *secret) {
    char endpoint[512], key[256], sec[256];
    if (json_quote(endpoint, sizeof endpoint, need("S3_ENDPOINT")) ||
        json_quote(key, sizeof key, need("AWS_ACCESS_KEY_ID")) || json_quote(sec, sizeof sec, secret))
        exit(2);
    snprintf(buf, n,
             "{\"unsafe\":true,\"s3_endpoint\":%s,\"s3_force_path_style\":true,\"aws_region\":\"us-east-1\","
             "\"aws_access_key_id\":%s,\"aws_secret_access_key\":%s,%s}",
             endpoint, key, sec, extra);
}

int main(void) {
    char opts[8192], extra[2048], dir[1024];
    imagor *im = NULL;
    imagor_bytes out = {NULL, 0};
    char *content_type = NULL;
    const char *secret = need("AWS_SECRET_ACCESS_KEY");

    if (json_quote(dir, sizeof dir, testdata_dir())) return 2;
    snprintf(extra, sizeof extra,
             "\"file_loader_base_dir\":%s,\"s3_storage_bucket\":\"imagor\",\"s3_storage_base_dir\":\"c-test\"", dir);
    options(opts, sizeof opts, extra, secret);
    CHECK_STATUS(imagor_new(opts, &im), IMAGOR_STATUS_OK, "imagor_new with an S3 storage");
    CHECK_STATUS(imagor_serve(im, "unsafe/10x10/gopher.png", &out, NULL), IMAGOR_STATUS_OK, "serve, saving the source");
    imagor_bytes_free(&out);
    imagor_free(im);

    im = NULL;
    options(opts, sizeof opts, "\"s3_loader_bucket\":\"imagor\",\"s3_loader_base_dir\":\"c-test\"", secret);
    CHECK_STATUS(imagor_new(opts, &im), IMAGOR_STATUS_OK, "imagor_new with an S3 loader");
    CHECK_STATUS(imagor_serve(im, "unsafe/fit-in/30x30/filters:format(webp)/gopher.png", &out, &content_type),
                 IMAGOR_STATUS_OK, "serve from S3");
    CHECK(out.len > 12 && !memcmp(out.data + 8, "WEBP", 4), "a WebP from S3");
    CHECK(content_type && !strcmp(content_type, "image/webp"), "content type");
    imagor_bytes_free(&out);
    imagor_string_free(content_type);
    CHECK_STATUS(imagor_serve(im, "unsafe/30x30/no-such.png", &out, NULL), IMAGOR_STATUS_NOT_FOUND, "missing");
    imagor_free(im);

    im = NULL;
    options(opts, sizeof opts, "\"s3_loader_bucket\":\"imagor\",\"s3_loader_base_dir\":\"c-test\"", "wrong");
    CHECK_STATUS(imagor_new(opts, &im), IMAGOR_STATUS_OK, "imagor_new with a wrong secret");
    CHECK_STATUS(imagor_serve(im, "unsafe/30x30/gopher.png", &out, NULL), IMAGOR_STATUS_STATUS, "wrong secret");
    CHECK(imagor_last_error_status() == 403, "wrong secret: HTTP %u (%s)", imagor_last_error_status(),
          imagor_last_error_message());
    imagor_free(im);
    return check_summary("object_storage");
}
