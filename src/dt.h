/*
 * dt: date-times as the SPEC writes them, "YYYY-MM-DD HH:MM:SS" at the
 * server's UTC offset, and instants as UTC seconds since the epoch.
 *
 * Instants are what vabill stores; the offset is applied only when a time is
 * read from or written to the wire, never from the local time zone setting.
 */
#ifndef VABILL_DT_H
#define VABILL_DT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DT_LEN 19

/* Parses "+HH:MM" / "-HH:MM" (up to +-14:00) into minutes east of UTC. */
bool dt_parse_offset(const char *s, int *minutes);

/* Parses s[0..n) as a real calendar date-time (years 0001-9999) at the given
 * offset into UTC seconds. */
bool dt_parse(const char *s, size_t n, int offset_min, int64_t *out);

/* Formats UTC seconds at the offset into out (DT_LEN + 1 bytes). */
void dt_format(int64_t t, int offset_min, char out[DT_LEN + 1]);

/* Current UTC seconds. */
int64_t dt_now(void);

#endif
