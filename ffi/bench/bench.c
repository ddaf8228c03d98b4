/*
 * libimagor vs libvips' C API, in one process: the same 512x512 centre-crop
 * thumbnail of each corpus image, saved in the input's format with the
 * encoder settings imagor uses, through
 *
 *   imagor:  imagor_process(im, data, len, "512x512/filters:format(FMT)")
 *   libvips: vips_thumbnail_buffer(data, len, &img, 512, "height", 512,
 *            "crop", VIPS_INTERESTING_CENTRE) + vips_image_write_to_buffer
 *
 * in alternating timed rounds (the order flips every round), one thread.
 * Prints one JSON line per format:
 *   {"format":..., "imagor_ops_per_s":..., "vips_ops_per_s":..., "ratio":...}
 * with the median of the rounds per side; ratio = imagor / libvips.
 *
 * usage: bench CORPUS_DIR FORMAT [SECONDS_PER_ROUND [ROUNDS]]
 * CORPUS_DIR/FORMAT/ holds the images (core/benches/make_corpus.py).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <imagor.h>
#include <vips/vips.h>

typedef struct {
    uint8_t *data;
    size_t len;
} file;

static file files[64];
static size_t n_files;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_size(const void *a, const void *b) {
    const file *x = a, *y = b;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void load_corpus(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        exit(2);
    }
    while ((e = readdir(d)) && n_files < 64) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        int n_path = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n_path < 0 || (size_t)n_path >= sizeof path) continue;
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)n);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            files[n_files].data = buf;
            files[n_files].len = (size_t)n;
            n_files++;
        } else {
            free(buf);
        }
        fclose(f);
    }
    closedir(d);
    if (!n_files) {
        fprintf(stderr, "no images in %s\n", dir);
        exit(2);
    }
    qsort(files, n_files, sizeof *files, by_size);
}

static const imagor *im;
static char imagor_path[64];
static const char *format;

static int via_imagor(const file *f) {
    imagor_bytes out;
    if (imagor_process(im, f->data, f->len, imagor_path, &out, NULL) != IMAGOR_STATUS_OK) {
        fprintf(stderr, "imagor_process: %s\n", imagor_last_error_message());
        return -1;
    }
    imagor_bytes_free(&out);
    return 0;
}

/* imagor's encoder settings (core/src/processor/export.rs) for each format. */
static int via_vips(const file *f) {
    VipsImage *img = NULL;
    void *buf = NULL;
    size_t size = 0;
    int rc;
    if (vips_thumbnail_buffer(f->data, f->len, &img, 512, "height", 512, "crop", VIPS_INTERESTING_CENTRE, NULL)) {
        fprintf(stderr, "vips_thumbnail_buffer: %s\n", vips_error_buffer());
        return -1;
    }
    if (!strcmp(format, "webp"))
        rc = vips_image_write_to_buffer(img, ".webp", &buf, &size, "effort", 4, NULL);
    else if (!strcmp(format, "avif"))
        rc = vips_image_write_to_buffer(img, ".avif", &buf, &size, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
                                        "effort", 1, NULL);
    else if (!strcmp(format, "png"))
        rc = vips_image_write_to_buffer(img, ".png", &buf, &size, NULL);
    else
        rc = vips_image_write_to_buffer(img, ".jpg", &buf, &size, NULL);
    g_object_unref(img);
    if (rc) {
        fprintf(stderr, "vips save: %s\n", vips_error_buffer());
        return -1;
    }
    g_free(buf);
    return 0;
}

/* Run `op` over the corpus for `seconds`; returns ops per second. */
static double timed(int (*op)(const file *), double seconds) {
    double t0 = now(), t;
    unsigned long n = 0;
    do {
        if (op(&files[n % n_files])) exit(1);
        n++;
        t = now() - t0;
    } while (t < seconds);
    return (double)n / t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR FORMAT [SECONDS_PER_ROUND [ROUNDS]]\n", argv[0]);
        return 2;
    }
    format = argv[2];
    double seconds = argc > 3 ? atof(argv[3]) : 3.0;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    if (rounds < 1 || rounds > 99) rounds = 5;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", argv[1], format);
    load_corpus(dir);
    snprintf(imagor_path, sizeof imagor_path, "512x512/filters:format(%s)", format);

    if (VIPS_INIT(argv[0])) vips_error_exit(NULL);
    vips_cache_set_max(0); /* as imagor: every call decodes its own input */
    imagor *handle = NULL;
    if (imagor_new("", &handle) != IMAGOR_STATUS_OK) {
        fprintf(stderr, "imagor_new: %s\n", imagor_last_error_message());
        return 1;
    }
    im = handle;

    /* Warm-up: codec initialisation is not measured. */
    for (size_t i = 0; i < n_files; i++)
        if (via_imagor(&files[i]) || via_vips(&files[i])) return 1;

    double a[99], b[99];
    for (int r = 0; r < rounds; r++) {
        if (r % 2 == 0) {
            a[r] = timed(via_imagor, seconds);
            b[r] = timed(via_vips, seconds);
        } else {
            b[r] = timed(via_vips, seconds);
            a[r] = timed(via_imagor, seconds);
        }
        fprintf(stderr, "%s round %d: imagor %.2f ops/s, libvips %.2f ops/s\n", format, r + 1, a[r], b[r]);
    }
    double ia = median(a, rounds), vb = median(b, rounds);
    printf("{\"format\":\"%s\",\"files\":%zu,\"rounds\":%d,\"seconds\":%.1f,"
           "\"imagor_ops_per_s\":%.3f,\"vips_ops_per_s\":%.3f,\"ratio\":%.4f}\n",
           format, n_files, rounds, seconds, ia, vb, ia / vb);

    imagor_free(handle);
    for (size_t i = 0; i < n_files; i++) free(files[i].data);
    return 0;
}
