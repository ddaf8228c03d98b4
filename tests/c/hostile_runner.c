/* One hostile case through the C ABI, for tests/hostile_processes.py:
 *   hostile_runner FILE PATH
 * processes FILE with the imagor path PATH and imagor's default options,
 * then prints `ok <bytes> <content type>` or `error <status> <code>` on
 * stdout. Exit 0 either way: any other exit is a failure of the host. */
#include <stdio.h>
#include <stdlib.h>

#include "imagor.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: hostile_runner FILE PATH\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            unsigned char *grown = realloc(data, cap);
            if (!grown) {
                free(data);
                data = NULL;
            }
            data = grown;
        }
    }
    fclose(f);
    if (!data) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    imagor_bytes out = {NULL, 0};
    char *type = NULL;
    int status = imagor_process_default(data, len, argv[2], &out, &type);
    if (status == IMAGOR_STATUS_OK) {
        printf("ok %zu %s\n", out.len, type ? type : "");
        imagor_bytes_free(&out);
        imagor_string_free(type);
    } else {
        printf("error %d %s\n", imagor_last_error_status(), imagor_status_str(status));
    }
    free(data);
    return 0;
}
