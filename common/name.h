/*
 * name: the one rule for names seald takes from outside (instance, key,
 * client names, URL path segments): 1 to SD_NAME_MAX - 1 letters, digits,
 * '.', '_' or '-'.
 */
#ifndef SD_NAME_H
#define SD_NAME_H

#include <stddef.h>
#include <stdint.h>

/* 1 when c may appear in a name. */
int sd_name_char(int c);

/* 1 when s[0..n) is a whole valid name. */
int sd_name_valid(const char *s, size_t n);

/* s[0..n) as a decimal number: 1 to 18 digits and nothing else (so it
 * fits int64_t); -1 otherwise. */
int64_t sd_decimal(const char *s, size_t n);

/* The value of hex digit c (either case), or -1. */
int sd_hexval(int c);

/* 1 when s is printable ASCII without quotes or backslashes: safe to
 * quote back in an error message. */
int sd_quotable(const char *s);

/* 1 when s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), as JSON text must be. */
int sd_utf8_valid(const char *s, size_t n);

/* Replace control characters in s by '?': client bytes quoted in a
 * message (a parser's error text) stay on one line. */
void sd_printable(char *s);

#endif
