/* A reader for the flat JSON objects of metrics.jsonl; nested objects are
 * refused since no lamina metrics file has them. */
#include "report/json_line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JSON_TEXT_CAPACITY = 16384 };

typedef struct json_cursor {
    const char *start;
    const char *at;
    char *problem;
    int problem_size;
} json_cursor;

static bool json_fail(json_cursor *c, const char *what)
{
    snprintf(c->problem, (size_t)c->problem_size, "%s at column %d", what, (int)(c->at - c->start) + 1);
    return false;
}

static void skip_space(json_cursor *c)
{
    while (*c->at == ' ' || *c->at == '\t' || *c->at == '\r' || *c->at == '\n') c->at++;
}

/* A string into out (escapes decoded; \u outside ASCII becomes '?'). */
static bool read_string(json_cursor *c, char *out, size_t capacity)
{
    if (*c->at != '"') return json_fail(c, "expected '\"'");
    c->at++;
    size_t length = 0;
    while (*c->at && *c->at != '"') {
        char ch = *c->at++;
        if (ch == '\\') {
            const char escaped = *c->at++;
            if (!escaped) return json_fail(c, "unfinished escape");
            const char *from = "nrtbf\"\\/", *to = "\n\r\t\b\f\"\\/";
            const char *hit = strchr(from, escaped);
            if (escaped == 'u') {
                for (int i = 0; i < 4; i++)
                    if (!c->at[i]) return json_fail(c, "unfinished \\u escape");
                const long code = strtol((char[]){c->at[0], c->at[1], c->at[2], c->at[3], 0}, NULL, 16);
                ch = code < 128 ? (char)code : '?';
                c->at += 4;
            } else if (hit) {
                ch = to[hit - from];
            } else {
                return json_fail(c, "unknown escape");
            }
        }
        if (length + 1 < capacity) out[length++] = ch;
    }
    out[length] = '\0';
    if (*c->at != '"') return json_fail(c, "unterminated string (truncated line?)");
    c->at++;
    return true;
}

static bool read_number(json_cursor *c, double *out)
{
    char *end = NULL;
    *out = strtod(c->at, &end);
    if (end == c->at) return json_fail(c, "expected a value");
    c->at = end;
    return true;
}

/* An array of strings and numbers, joined by ',' into out. */
static bool read_list(json_cursor *c, char *out, size_t capacity)
{
    c->at++;
    size_t length = 0;
    out[0] = '\0';
    skip_space(c);
    while (*c->at && *c->at != ']') {
        char item[256];
        double number;
        if (*c->at == '"') {
            if (!read_string(c, item, sizeof item)) return false;
        } else {
            if (!read_number(c, &number)) return false;
            snprintf(item, sizeof item, "%.17g", number);
        }
        length += (size_t)snprintf(out + length, capacity - length, "%s%s", length ? "," : "", item);
        if (length >= capacity) length = capacity - 1;
        skip_space(c);
        if (*c->at == ',') c->at++;
        else if (*c->at != ']') return json_fail(c, "expected ',' or ']' (truncated line?)");
        skip_space(c);
    }
    if (*c->at != ']') return json_fail(c, "unterminated array (truncated line?)");
    c->at++;
    return true;
}

static bool read_value(json_cursor *c, report_value *value, char *text)
{
    value->text = text;
    text[0] = '\0';
    if (*c->at == '"') {
        value->kind = REPORT_VALUE_STRING;
        return read_string(c, text, JSON_TEXT_CAPACITY);
    }
    if (*c->at == '[') {
        value->kind = REPORT_VALUE_LIST;
        return read_list(c, text, JSON_TEXT_CAPACITY);
    }
    static const struct { const char *word; report_value_kind kind; double number; } words[] = {
        {"null", REPORT_VALUE_NULL, 0}, {"true", REPORT_VALUE_NUMBER, 1}, {"false", REPORT_VALUE_NUMBER, 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        const size_t n = strlen(words[i].word);
        if (strncmp(c->at, words[i].word, n) == 0) {
            c->at += n;
            value->kind = words[i].kind;
            value->number = words[i].number;
            return true;
        }
    }
    if (*c->at == '{') return json_fail(c, "nested objects are not metrics");
    value->kind = REPORT_VALUE_NUMBER;
    return read_number(c, &value->number);
}

bool report_parse_json_line(const char *line, report_field_fn fn, void *context, char *problem,
                            int problem_size)
{
    json_cursor c = {line, line, problem, problem_size};
    char key[256], text[JSON_TEXT_CAPACITY];
    skip_space(&c);
    if (*c.at != '{') return json_fail(&c, "expected '{'");
    c.at++;
    skip_space(&c);
    while (*c.at != '}') {
        if (!read_string(&c, key, sizeof key)) return false;
        skip_space(&c);
        if (*c.at != ':') return json_fail(&c, "expected ':'");
        c.at++;
        skip_space(&c);
        report_value value;
        if (!read_value(&c, &value, text)) return false;
        fn(context, key, &value);
        skip_space(&c);
        if (*c.at == ',') c.at++;
        else if (*c.at != '}') return json_fail(&c, *c.at ? "expected ',' or '}'" : "line ends inside the object (truncated?)");
        skip_space(&c);
    }
    c.at++;
    skip_space(&c);
    if (*c.at) return json_fail(&c, "text after the object");
    return true;
}
