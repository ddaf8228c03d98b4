/*
 * One handle shared by 8 pthreads, each making IMAGOR_TEST_ITERATIONS
 * (default 200) mixed calls: process (bytes compared with a result made
 * before the threads start), sign (imagor's documented vector, and a
 * per-thread path compared with its single-threaded signature), verify,
 * and a failing process whose status and thread-local message are checked.
 */
#include <pthread.h>

#include "check.h"

#define THREADS 8

static imagor *shared;
static uint8_t *source;
static size_t source_len;
static imagor_bytes reference;
static int iterations;

/* imagor's documented vector (docs/security.mdx), signed by the handle. */
static const char *vector_path = "500x500/top/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png";
static const char *vector_hash = "IGEn3TxngivD0jy4uuiZim2bdUCvhcnVi1Nm0xGy";
static const char *process_path = "fit-in/48x48/filters:format(png)";

typedef struct {
    int id;
    char own_path[64];
    char *own_hash; /* the single-threaded signature of own_path */
    unsigned long passed, failed;
    char first_failure[256];
} worker;

static void record(worker *w, int ok, const char *what, int i) {
    if (ok) {
        w->passed++;
        return;
    }
    if (!w->failed++)
        snprintf(w->first_failure, sizeof w->first_failure, "thread %d, iteration %d: %s (%s)", w->id, i, what,
                 imagor_last_error_message());
}

static void *run(void *arg) {
    worker *w = arg;
    static const uint8_t junk[64] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int i = 0; i < iterations; i++) {
        char *hash = NULL;
        imagor_bytes out = {NULL, 0};
        switch ((i + w->id) % 5) {
        case 0: /* process */
            record(w, imagor_process(shared, source, source_len, process_path, &out, NULL) == IMAGOR_STATUS_OK,
                   "process", i);
            record(w, out.len == reference.len && !memcmp(out.data, reference.data, out.len), "process bytes", i);
            imagor_bytes_free(&out);
            break;
        case 1: /* sign imagor's vector */
            record(w, imagor_sign(shared, vector_path, &hash) == IMAGOR_STATUS_OK, "sign", i);
            record(w, hash && !strcmp(hash, vector_hash), "sign vector", i);
            imagor_string_free(hash);
            break;
        case 2: /* sign this thread's path */
            record(w, imagor_sign(shared, w->own_path, &hash) == IMAGOR_STATUS_OK, "sign own", i);
            record(w, hash && !strcmp(hash, w->own_hash), "sign own value", i);
            imagor_string_free(hash);
            break;
        case 3: { /* verify a signed request path */
            char request[256];
            snprintf(request, sizeof request, "%s/%s", w->own_hash, w->own_path);
            record(w, imagor_verify(shared, request) == IMAGOR_STATUS_OK, "verify", i);
            request[0] = request[0] == 'A' ? 'B' : 'A';
            record(w, imagor_verify(shared, request) == IMAGOR_STATUS_SIGNATURE_MISMATCH, "verify forged", i);
            record(w, imagor_last_error_status() == 403, "verify forged status", i);
            break;
        }
        default: /* a failure, whose last error must be this thread's own */
            out.data = (uint8_t *)junk;
            record(w, imagor_process(shared, junk, sizeof junk, process_path, &out, NULL) ==
                          IMAGOR_STATUS_UNSUPPORTED_FORMAT, "process junk", i);
            record(w, !strcmp(imagor_last_error_message(), "unsupported format"), "junk message", i);
            record(w, imagor_last_error_status() == 406, "junk status", i);
            record(w, out.data == junk && out.len == 0, "junk left the output alone", i);
            break;
        }
    }
    return NULL;
}

int main(void) {
    iterations = env_count("IMAGOR_TEST_ITERATIONS", 200);
    source = read_testdata("gopher-front.png", &source_len);
    char merged[256];
    CHECK_STATUS(imagor_new(test_options(merged, sizeof merged,
                                         "{\"secret\":\"mysecret\",\"signer_type\":\"sha256\",\"signer_truncate\":40}"),
                            &shared),
                 IMAGOR_STATUS_OK, "imagor_new");
    if (!shared) return check_summary("threads");
    CHECK_STATUS(imagor_process(shared, source, source_len, process_path, &reference, NULL), IMAGOR_STATUS_OK,
                 "reference");
    CHECK(reference.len > 8 && !memcmp(reference.data, "\x89PNG", 4), "reference is a PNG");

    worker workers[THREADS];
    pthread_t threads[THREADS];
    memset(workers, 0, sizeof workers);
    for (int t = 0; t < THREADS; t++) {
        workers[t].id = t;
        snprintf(workers[t].own_path, sizeof workers[t].own_path, "fit-in/%dx%d/thread-%d.jpg", 100 + t, 50 + t, t);
        CHECK_STATUS(imagor_signer_sign(workers[t].own_path, "mysecret", "sha256", 40, &workers[t].own_hash),
                     IMAGOR_STATUS_OK, "own hash");
        if (!workers[t].own_hash) return check_summary("threads");
    }
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_create(&threads[t], NULL, run, &workers[t]) == 0, "pthread_create %d", t);
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        checks_passed += workers[t].passed;
        checks_failed += workers[t].failed;
        if (workers[t].failed)
            fprintf(stderr, "FAIL %lu checks in thread %d, first: %s\n", workers[t].failed, t,
                    workers[t].first_failure);
        imagor_string_free(workers[t].own_hash);
    }
    printf("%d threads x %d mixed calls on one handle\n", THREADS, iterations);
    imagor_bytes_free(&reference);
    imagor_free(shared);
    free(source);
    return check_summary("threads");
}
