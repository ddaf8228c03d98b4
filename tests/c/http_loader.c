/*
 * The core's HTTP loader through the C ABI: the JSON options reach it. A
 * local origin (one thread, one request per connection) and a canary that
 * counts connections, both on 127.0.0.1; nothing reaches the internet.
 * An allowed origin is loaded (directly and through a redirect); with the
 * default options loopback is refused with 403 and a redirect from the
 * allowed origin to the canary is refused too, the canary never touched.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static uint8_t *png;
static size_t png_len;
static int canary_hits;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A listening socket on 127.0.0.1 and a free port. */
static int listen_local(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&a, &n)) {
        perror("listen");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k <= 0) return;
        p += k;
        len -= (size_t)k;
    }
}

/* The origin: `/gopher.png`, `/to/<url>` (302 to url), else 404. */
static void *origin_main(void *arg) {
    int srv = *(int *)arg;
    for (;;) {
        int c = accept(srv, NULL, NULL);
        if (c < 0) return NULL;
        char req[4096] = "";
        size_t got = 0;
        while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t k = read(c, req + got, sizeof req - 1 - got);
            if (k <= 0) break;
            got += (size_t)k;
            req[got] = 0;
        }
        req[got] = 0;
        char path[2048] = "";
        sscanf(req, "GET %2047s", path);
        char head[2600];
        if (!strcmp(path, "/gopher.png")) {
            snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     png_len);
            write_all(c, head, strlen(head));
            write_all(c, png, png_len);
        } else if (!strncmp(path, "/to/", 4)) {
            snprintf(head, sizeof head,
                     "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     path + 4);
            write_all(c, head, strlen(head));
        } else {
            const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            write_all(c, nf, strlen(nf));
        }
        close(c);
    }
}

static void *canary_main(void *arg) {
    int srv = *(int *)arg;
    for (;;) {
        int c = accept(srv, NULL, NULL);
        if (c < 0) return NULL;
        pthread_mutex_lock(&lock);
        canary_hits++;
        pthread_mutex_unlock(&lock);
        close(c);
    }
}

/* A handle for `json`, with IMAGOR_TEST_OPTIONS added: under valgrind the
 * decode of gopher.png alone can outlast the 2 s default budget. */
static imagor *make(const char *json) {
    char merged[1024];
    const char *opts = test_options(merged, sizeof merged, json);
    imagor *im = NULL;
    CHECK_STATUS(imagor_new(opts, &im), IMAGOR_STATUS_OK, opts);
    return im;
}

/* Serve `path`; the status, and the HTTP status of a failure. */
static imagor_status serve(const imagor *im, const char *path, unsigned *http) {
    imagor_bytes out = {0};
    char *type = NULL;
    imagor_status s = imagor_serve(im, path, &out, &type);
    *http = s == IMAGOR_STATUS_OK ? 200 : imagor_last_error_status();
    if (s == IMAGOR_STATUS_OK) {
        CHECK(out.len > 8 && !memcmp(out.data, "\x89PNG", 4), "%s: not a PNG", path);
        CHECK(type && !strcmp(type, "image/png"), "%s: content type %s", path, type ? type : "NULL");
    }
    imagor_bytes_free(&out);
    imagor_string_free(type);
    return s;
}

int main(void) {
    png = read_testdata("gopher.png", &png_len);
    int origin_port, canary_port;
    int origin_fd = listen_local(&origin_port);
    int canary_fd = listen_local(&canary_port);
    pthread_t t1, t2;
    pthread_create(&t1, NULL, origin_main, &origin_fd);
    pthread_create(&t2, NULL, canary_main, &canary_fd);
    pthread_detach(t1);
    pthread_detach(t2);

    char json[512], path[512];
    unsigned http = 0;
    /* Loopback lifted for the local origin, and only it allowed. */
    snprintf(json, sizeof json,
             "{\"unsafe\":true,\"http_loader_block_loopback_networks\":false,"
             "\"http_loader_allowed_sources\":[\"127.0.0.1:%d\"]}",
             origin_port);
    imagor *allowed = make(json);
    snprintf(path, sizeof path, "unsafe/fit-in/16x16/http://127.0.0.1:%d/gopher.png", origin_port);
    CHECK_STATUS(serve(allowed, path, &http), IMAGOR_STATUS_OK, path);
    snprintf(path, sizeof path, "unsafe/fit-in/16x16/http://127.0.0.1:%d/to/http://127.0.0.1:%d/gopher.png",
             origin_port, origin_port);
    CHECK_STATUS(serve(allowed, path, &http), IMAGOR_STATUS_OK, path);
    /* A redirect from the allowed origin to the canary: not allowed. */
    snprintf(path, sizeof path, "unsafe/http://127.0.0.1:%d/to/http://127.0.0.1:%d/x.png", origin_port,
             canary_port);
    CHECK_STATUS(serve(allowed, path, &http), IMAGOR_STATUS_SOURCE_NOT_ALLOWED, path);
    CHECK(http == 403, "redirect to the canary: HTTP %u", http);

    /* Default options: loopback, private and link-local are refused. */
    imagor *def = make("{\"unsafe\":true}");
    const char *refused[] = {"http://127.0.0.1:%d/gopher.png", "http://localhost:%d/x.png",
                             "http://[::ffff:127.0.0.1]:%d/x.png", "http://169.254.169.254/%d",
                             "http://10.0.0.1/%d"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char url[256];
        snprintf(url, sizeof url, refused[i], i == 0 ? origin_port : canary_port);
        snprintf(path, sizeof path, "unsafe/%s", url);
        imagor_status s = serve(def, path, &http);
        CHECK(s != IMAGOR_STATUS_OK && http == 403, "%s: %s, HTTP %u", url, imagor_status_str((int)s), http);
    }
    snprintf(path, sizeof path, "unsafe/http://127.0.0.1:%d/gopher.png", origin_port);
    serve(def, path, &http);
    char want[256];
    snprintf(want, sizeof want, "unauthorized request: loopback address blocked: http://127.0.0.1:%d/gopher.png",
             origin_port);
    CHECK(!strcmp(imagor_last_error_message(), want), "message %s", imagor_last_error_message());

    /* Options that do not parse are refused at imagor_new. */
    imagor *bad = NULL;
    CHECK_STATUS(imagor_new("{\"http_loader_block_networks\":[\"nope\"]}", &bad), IMAGOR_STATUS_INVALID,
                 "bad CIDR");
    CHECK(bad == NULL, "a handle for bad options");

    pthread_mutex_lock(&lock);
    CHECK(canary_hits == 0, "the canary got %d connections", canary_hits);
    pthread_mutex_unlock(&lock);
    imagor_free(allowed);
    imagor_free(def);
    free(png);
    return check_summary("http_loader");
}
