/*
 * A small JSON reader for the C tests, so that they read the shared vector
 * files (testdata/vectors/NAME.json) themselves, with no generated copy in
 * between. Strict RFC 8259 input, UTF-8 output for strings (\uXXXX escapes
 * and surrogate pairs decoded), numbers as double, the source text of every
 * value kept (`raw`, `raw_len`) so a sub-object can be handed on verbatim.
 *
 * Not a general-purpose library: test helper only, header-only.
 */
#ifndef IMAGOR_TEST_JSON_H
#define IMAGOR_TEST_JSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    double number;
    char *string; /* decoded, NUL-terminated */
    size_t string_len;
    struct json_value *items; /* array elements or object values */
    char **keys;              /* object keys (decoded), parallel to items */
    size_t count;
    const char *raw; /* this value's text in the source */
    size_t raw_len;
} json_value;

typedef struct {
    const char *s, *end;
    const char *error;
    int depth;
} json_parser;

static inline void json_free(json_value *v) {
    if (!v) return;
    for (size_t i = 0; i < v->count; i++) {
        json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    memset(v, 0, sizeof *v);
}

static inline void json_ws(json_parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static inline int json_fail(json_parser *p, const char *why) {
    if (!p->error) p->error = why;
    return -1;
}

static inline int json_hex4(json_parser *p, unsigned *out) {
    unsigned v = 0;
    if (p->end - p->s < 4) return json_fail(p, "short \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = *p->s++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return json_fail(p, "bad \\u escape");
    }
    *out = v;
    return 0;
}

/* Append code point `cp` as UTF-8 to buf (which has room). */
static inline size_t json_utf8(char *buf, unsigned cp) {
    if (cp < 0x80) { buf[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parse a string literal at p->s (which is at the opening quote). */
static inline int json_string(json_parser *p, char **out, size_t *out_len) {
    const char *start = ++p->s;
    /* Decoded text is never longer than the source text. */
    size_t cap = 1;
    while (p->s < p->end && *p->s != '"') {
        if (*p->s == '\\') p->s++;
        p->s++;
    }
    if (p->s >= p->end) return json_fail(p, "unterminated string");
    cap += (size_t)(p->s - start);
    char *buf = malloc(cap);
    if (!buf) return json_fail(p, "out of memory");
    size_t n = 0;
    p->s = start;
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) { free(buf); return json_fail(p, "control character in string"); }
        if (c != '\\') { buf[n++] = (char)c; continue; }
        char e = *p->s++;
        unsigned cp;
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u':
            if (json_hex4(p, &cp)) { free(buf); return -1; }
            if (cp >= 0xD800 && cp <= 0xDBFF && p->end - p->s >= 6 && p->s[0] == '\\' && p->s[1] == 'u') {
                unsigned lo;
                p->s += 2;
                if (json_hex4(p, &lo)) { free(buf); return -1; }
                if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else { n += json_utf8(buf + n, 0xFFFD); cp = lo; }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* lone surrogate */
            n += json_utf8(buf + n, cp);
            break;
        default: free(buf); return json_fail(p, "bad escape");
        }
    }
    p->s++; /* closing quote */
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

static inline int json_value_parse(json_parser *p, json_value *v);

static inline int json_push(json_value *v, size_t *cap) {
    if (v->count < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    json_value *items = realloc(v->items, ncap * sizeof *items);
    if (!items) return -1;
    v->items = items;
    if (v->type == JSON_OBJECT) {
        char **keys = realloc(v->keys, ncap * sizeof *keys);
        if (!keys) return -1;
        v->keys = keys;
    }
    *cap = ncap;
    return 0;
}

static inline int json_container(json_parser *p, json_value *v, char close) {
    size_t cap = 0;
    p->s++;
    if (++p->depth > 64) return json_fail(p, "nesting too deep");
    json_ws(p);
    if (p->s < p->end && *p->s == close) { p->s++; p->depth--; return 0; }
    for (;;) {
        if (json_push(v, &cap)) return json_fail(p, "out of memory");
        json_value *item = &v->items[v->count];
        memset(item, 0, sizeof *item);
        if (v->type == JSON_OBJECT) {
            size_t klen;
            json_ws(p);
            if (p->s >= p->end || *p->s != '"') return json_fail(p, "expected a key");
            v->keys[v->count] = NULL;
            if (json_string(p, &v->keys[v->count], &klen)) return -1;
            json_ws(p);
            if (p->s >= p->end || *p->s != ':') { v->count++; return json_fail(p, "expected ':'"); }
            p->s++;
        }
        v->count++;
        if (json_value_parse(p, item)) return -1;
        json_ws(p);
        if (p->s < p->end && *p->s == ',') { p->s++; continue; }
        if (p->s < p->end && *p->s == close) { p->s++; p->depth--; return 0; }
        return json_fail(p, "expected ',' or a closing bracket");
    }
}

static inline int json_value_parse(json_parser *p, json_value *v) {
    json_ws(p);
    if (p->s >= p->end) return json_fail(p, "unexpected end");
    v->raw = p->s;
    int rc = 0;
    char c = *p->s;
    if (c == '{') { v->type = JSON_OBJECT; rc = json_container(p, v, '}'); }
    else if (c == '[') { v->type = JSON_ARRAY; rc = json_container(p, v, ']'); }
    else if (c == '"') { v->type = JSON_STRING; rc = json_string(p, &v->string, &v->string_len); }
    else if (p->end - p->s >= 4 && !strncmp(p->s, "true", 4)) { v->type = JSON_BOOL; v->boolean = 1; p->s += 4; }
    else if (p->end - p->s >= 5 && !strncmp(p->s, "false", 5)) { v->type = JSON_BOOL; p->s += 5; }
    else if (p->end - p->s >= 4 && !strncmp(p->s, "null", 4)) { v->type = JSON_NULL; p->s += 4; }
    else if (c == '-' || (c >= '0' && c <= '9')) {
        char tmp[64];
        size_t n = 0;
        while (p->s < p->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", *p->s)) tmp[n++] = *p->s++;
        tmp[n] = '\0';
        char *endp;
        v->type = JSON_NUMBER;
        v->number = strtod(tmp, &endp);
        if (*endp) return json_fail(p, "bad number");
    } else return json_fail(p, "unexpected character");
    v->raw_len = (size_t)(p->s - v->raw);
    return rc;
}

/* Parse `len` bytes of `text` into `out`. Returns 0, or -1 with `*error` set. */
static inline int json_parse(const char *text, size_t len, json_value *out, const char **error) {
    json_parser p = {text, text + len, NULL, 0};
    memset(out, 0, sizeof *out);
    if (json_value_parse(&p, out) == 0) {
        json_ws(&p);
        if (p.s == p.end) return 0;
        json_fail(&p, "trailing text");
    }
    json_free(out);
    *error = p.error;
    return -1;
}

/* The member `key` of an object, or NULL. */
static inline const json_value *json_get(const json_value *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (!strcmp(obj->keys[i], key)) return &obj->items[i];
    return NULL;
}

/* The string member `key`, or `fallback` when absent or not a string. */
static inline const char *json_str(const json_value *obj, const char *key, const char *fallback) {
    const json_value *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->string : fallback;
}

/* The number member `key`, or `fallback`. */
static inline double json_num(const json_value *obj, const char *key, double fallback) {
    const json_value *v = json_get(obj, key);
    return v && v->type == JSON_NUMBER ? v->number : fallback;
}

/*
 * Deep equality: objects as unordered sets of members (a member named
 * `ignore` is skipped on both sides when not NULL), numbers by value,
 * strings byte for byte.
 */
static inline int json_equal(const json_value *a, const json_value *b, const char *ignore) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->boolean == b->boolean;
    case JSON_NUMBER: return a->number == b->number;
    case JSON_STRING: return a->string_len == b->string_len && !memcmp(a->string, b->string, a->string_len);
    case JSON_ARRAY:
        if (a->count != b->count) return 0;
        for (size_t i = 0; i < a->count; i++)
            if (!json_equal(&a->items[i], &b->items[i], NULL)) return 0;
        return 1;
    case JSON_OBJECT: {
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < a->count; i++) {
            if (ignore && !strcmp(a->keys[i], ignore)) continue;
            const json_value *other = json_get(b, a->keys[i]);
            if (!other || !json_equal(&a->items[i], other, NULL)) return 0;
            na++;
        }
        for (size_t i = 0; i < b->count; i++)
            if (!ignore || strcmp(b->keys[i], ignore)) nb++;
        return na == nb;
    }
    }
    return 0;
}

/* Write `s` as a JSON string literal (quotes included) into dst; 0 or -1 when too long. */
static inline int json_quote(char *dst, size_t cap, const char *s) {
    size_t n = 0;
    if (cap < 3) return -1;
    dst[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (n + 8 >= cap) return -1;
        if (c == '"' || c == '\\') { dst[n++] = '\\'; dst[n++] = (char)c; }
        else if (c < 0x20) n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        else dst[n++] = (char)c;
    }
    dst[n++] = '"';
    dst[n] = '\0';
    return 0;
}

/* Read a whole file; NULL on failure. The buffer is NUL-terminated. */
static inline char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

#endif /* IMAGOR_TEST_JSON_H */
