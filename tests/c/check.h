/*
 * Test bookkeeping shared by the C tests: CHECK() counts a check, prints
 * the failing ones with their location, and check_summary() prints the
 * closing "N passed, N failed" line and gives the exit code.
 */
#ifndef IMAGOR_TEST_CHECK_H
#define IMAGOR_TEST_CHECK_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <imagor.h>

static unsigned long checks_passed, checks_failed;

static inline void check_report(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        checks_passed++;
        return;
    }
    checks_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* CHECK(cond, "printf format", ...): record one check. */
#define CHECK(cond, ...) check_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* CHECK that a call returned `want`; on failure show the status names and message. */
#define CHECK_STATUS(got, want, what)                                                       \
    do {                                                                                    \
        imagor_status got_ = (got);                                                         \
        CHECK(got_ == (want), "%s: got %s (%d), want %s: %s", (what),                       \
              imagor_status_str((int)got_), (int)got_, imagor_status_str((int)(want)),      \
              imagor_last_error_message());                                                 \
    } while (0)

/* Print the closing line and return the process exit code. */
static inline int check_summary(const char *name) {
    printf("%s: %lu passed, %lu failed\n", name, checks_passed, checks_failed);
    return checks_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The testdata folder: $IMAGOR_TESTDATA, else ./testdata. */
static inline const char *testdata_dir(void) {
    const char *d = getenv("IMAGOR_TESTDATA");
    return d && *d ? d : "testdata";
}

/* Read testdata/<name> into a malloc'd buffer; exits when missing. */
static inline uint8_t *read_testdata(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", testdata_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Options JSON for a test handle: `json` ("" or an object) with the members
 * in IMAGOR_TEST_OPTIONS added (e.g. "\"process_timeout\":\"0s\""). run.sh
 * sets it under valgrind, where every call runs ~50x slower than the 2 s
 * default budget is meant for. */
static inline const char *test_options(char *buf, size_t size, const char *json) {
    const char *extra = getenv("IMAGOR_TEST_OPTIONS");
    if (!extra || !*extra) return json;
    const char *body = (json && *json == '{') ? json + 1 : "}";
    int n = snprintf(buf, size, "{%s%s%s", extra, strcmp(body, "}") ? "," : "", body);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "IMAGOR_TEST_OPTIONS: too long\n");
        exit(2);
    }
    return buf;
}

/* Whether the run is slowed down (valgrind): imagor_process_default(), whose
 * budget cannot be raised, is then checked only by the plain and ASan runs. */
static inline int slow_run(void) {
    const char *extra = getenv("IMAGOR_TEST_OPTIONS");
    return extra && *extra;
}

/* An environment variable as a positive count, or `fallback`. */
static inline int env_count(const char *name, int fallback) {
    const char *v = getenv(name);
    int n = v ? atoi(v) : 0;
    return n > 0 ? n : fallback;
}

#endif /* IMAGOR_TEST_CHECK_H */
