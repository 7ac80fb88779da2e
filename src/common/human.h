/* human.h - sizes and durations in the forms people read.
 *
 * Two styles, because two audiences already depend on each: eventflowd's
 * SIZE and UPTIME replies keep EventflowDB's forms (clients parse them, so
 * they are part of the protocol), and eventflowctl's tables use shorter,
 * binary-unit forms. */
#ifndef EVENTFLOW_HUMAN_H
#define EVENTFLOW_HUMAN_H

#include <stddef.h>
#include <stdint.h>

enum human_style {
    /* Sizes in SI units: "999 B", "1.2 kB", "34 MB".
     * Durations as Go prints them: "0s", "250ms", "3s", "1h2m3.004s". */
    HUMAN_EVENTFLOWDB,
    /* Sizes in binary units, one decimal: "512 B", "1.5 KiB", "20.0 MiB".
     * Durations in two units at most: "250ms", "12.3s", "5m3s", "1h2m", "3d4h". */
    HUMAN_SHORT,
};

/* n bytes into out, cut to cap (16 bytes always suffice). */
void human_bytes(uint64_t n, enum human_style style, char *out, size_t cap);

/* ms milliseconds into out, cut to cap (32 bytes always suffice). */
void human_duration(uint64_t ms, enum human_style style, char *out, size_t cap);

#endif
