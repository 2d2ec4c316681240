/* symbols: names for the frames of sampled heap sites, after the run, off the target's path.
 *
 * A frame is (module path, GNU build-id, ELF virtual address in that module). elfutils' libdwfl
 * opens the module (and its separate debug file under /usr/lib/debug/.build-id, never over the
 * network), the function comes from .symtab or .dynsym, file and line from DWARF where present,
 * and libiberty demangles C++ and Rust (legacy and v0). The address looked up is one byte before
 * the return address, so a call at the end of a function is named by its caller.
 * Files named by a recording are hostile: only regular files are opened (never a FIFO or a
 * device), and names are bounded and stripped of control bytes. A cache keeps at most
 * SYMBOLS_CACHE_MAX files open, evicting the least recently used.
 * Lookups never abort: a module that is missing, has another build-id, or is stripped gives
 * -ENOENT with a note, and the caller shows the address.
 */
#ifndef HEADROOM_SYMBOLS_H
#define HEADROOM_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define SYMBOLS_CACHE_MAX 32

struct symbols;                                     /* a cache of opened ELF files */

struct symbol {
	char function[1024];      /* demangled, "" when unknown */
	char file[1024];          /* source file, "" when unknown */
	int64_t line;             /* 0 when unknown */
	/* why the name is missing or partial: "stripped: addresses only", "missing file",
	 * "not a regular file", "not an ELF file", "build-id differs", "no symbol", "" when none */
	char note[64];
};

int symbols_open(struct symbols **out);
/* module: path; build_id: hex GNU build-id the frame was recorded with (NULL: unchecked);
 * offset: ELF virtual address in that file (a return address). Returns 0 with out->function
 * set, -ENOENT when the module cannot be used or no symbol covers the address (out->note says
 * why), -EINVAL for a NULL module, -ENOMEM. */
int symbols_lookup(struct symbols *s, const char *module, const char *build_id, uint64_t offset,
		   struct symbol *out);
void symbols_close(struct symbols *s);

/* Fill function/file/line of the rows that have no function, in memory. note (may be NULL)
 * gets one line on what could not be named ("stripped: addresses only (prog)"), "" when all
 * were. Returns how many rows were named, or -ENOMEM. */
int symbols_resolve_frames(struct record_site_row *f, size_t n, char *note, size_t note_len);
/* Fill function/file/line of every heap_site_frames row of a recording that has none, and store
 * them in the file. Returns rows named (>= 0), -ENODATA when the recording has no sites, or
 * record_site_rows_store()'s error (the file was read-only: nothing stored). */
int symbols_resolve_recording(struct recording *r, char *note, size_t note_len);

#endif
