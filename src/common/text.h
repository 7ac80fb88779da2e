/* text.h - small character-level helpers shared by the protocol parsers
 * and the auth checks of both listeners. */
#ifndef EVENTFLOW_TEXT_H
#define EVENTFLOW_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The value of a hexadecimal digit, or -1. */
int text_hex_value(char c);

/* Whether got[0..got_len) equals the non-empty secret want, in time
 * independent of where they differ, so response timing does not leak a
 * password prefix by prefix. */
bool text_secret_equal(const char *want, const char *got, size_t got_len);

#endif
