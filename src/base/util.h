/* util: quantities, durations, clocks, terminal escaping and small string helpers shared by every
 * module.
 *
 * Owns the parsing of user-facing sizes (Kubernetes quantities and plain bytes) and durations,
 * and their formatting in Mi/Gi. Pure functions: no allocation, no I/O, no logging.
 * Errors are negative errno values (-EINVAL for text that does not parse, -ERANGE for overflow).
 */
#ifndef HEADROOM_UTIL_H
#define HEADROOM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UTIL_MiB (1024LL * 1024LL)

/* Kubernetes quantities -> bytes: "512Mi", "1Gi", "500M", "1.5G", "500k", "1e9", "4096", "128Ki".
 * Rejects what Kubernetes rejects: "512MB", "500K" (only lower-case k), "0x10", "", "-1". */
int util_size_parse(const char *text, int64_t *ret_bytes);
/* A one-line explanation of why `text` is not a size and what is accepted. */
void util_size_explain(const char *text, char *buf, size_t len);
/* "250ms", "10s", "5m", "1h", "1.5s", "100us" -> nanoseconds. Rejects bare numbers. */
int util_duration_parse(const char *text, int64_t *ret_ns);
/* A percentage, one unit: "45%" or "45" -> 0.45, "0.5" -> 0.005 (half a percent). */
int util_percent_parse(const char *text, double *ret_fraction);

/* 1536 -> "1.5Ki", 268435456 -> "256.0Mi"; negative (unknown) -> "-". Returns buf. */
char *util_size_format(int64_t bytes, char *buf, size_t len);
/* Kubernetes quantity rounded up to a whole Mi: 268435457 -> "257Mi". Returns buf. */
char *util_size_format_mi_ceil(int64_t bytes, char *buf, size_t len);
int64_t util_round_up_mi(int64_t bytes);
/* 1.5e9 ns -> "1.5s", 90e9 -> "1m30s". Returns buf. */
char *util_duration_format(int64_t ns, char *buf, size_t len);

int64_t util_now_ns(void);      /* CLOCK_MONOTONIC */
int64_t util_wall_ns(void);     /* CLOCK_REALTIME */

/* Read a whole small file (virtual files: one read, one byte extra to detect truncation).
 * Returns bytes read (NUL-terminated), -errno, or -EFBIG when it did not fit. */
ssize_t util_read_file(const char *path, char *buf, size_t len);
ssize_t util_read_fd(int fd, char *buf, size_t len);   /* pread at 0 */
int util_write_file(const char *path, const char *text);
/* One argument as a POSIX shell would need it to be written to mean the same: as is when it is
 * plain, 'single-quoted' otherwise, $'...' with \xNN escapes when it holds control bytes (so an
 * argument can never move the cursor on the terminal it is echoed to). Truncated to len. */
char *util_shell_quote(const char *arg, char *buf, size_t len);
/* Write `len` bytes as the file `path`, safely: into a new private file next to it (mkstemp:
 * O_EXCL, so no symlink or file planted at a predictable temporary name is followed or
 * overwritten), flushed to disk, then renamed over `path` (a symlink at `path` is replaced, not
 * followed). Readers see the old file or the whole new one, never a part. `mode` e.g. 0644.
 * Every write is checked: a full disk is -ENOSPC and leaves no temporary file behind. */
int util_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Parse a decimal integer at *p, advancing *p past it; returns -EINVAL if there is none and
 * -ERANGE (leaving *p and *ret alone) when it does not fit in 64 bits: never a wrapped value. */
int util_parse_u64(const char **p, uint64_t *ret);
/* Saturating arithmetic on byte counts: a figure from a hostile file must not wrap into a small
 * one (a peak of INT64_MAX must not become a 1Mi limit). Results clamp to [INT64_MIN, INT64_MAX]. */
int64_t util_add_sat(int64_t a, int64_t b);
int64_t util_mul_sat(int64_t a, int64_t b);
/* A double from outside (a Prometheus value, a ratio) as int64: clamped to the int64 range,
 * NaN -> `nan_value`. A plain cast of 1e30 or NaN is undefined behaviour. */
int64_t util_double_to_i64(double v, int64_t nan_value);

/* Text from outside (a command line, a cgroup name, a pod label, an HTTP answer, a recording)
 * made safe for a terminal: C0 controls, DEL, C1 controls (also as UTF-8 U+0080..U+009F) and
 * bytes that are not UTF-8 become visible escapes (\e, \x1b, \u009b) so no escape sequence
 * reaches the user's terminal. `keep_newlines` leaves '\n' and '\t' alone (multi-line messages
 * of our own). Always NUL-terminates; cuts at a whole escape when `len` is too small. Returns out. */
char *util_term_escape(const char *in, char *out, size_t len, bool keep_newlines);

#endif
