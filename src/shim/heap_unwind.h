/* heap_unwind: the heap shim's own stack walker for sampled allocations (x86-64, glibc >= 2.35).
 *
 * Walks the calling thread's stack from heap_unwind_walk's own frame with the .eh_frame rules of
 * each return address, cached per thread (CFA = rsp|rbp + offset, return address at CFA-8, rbp
 * saved at CFA+k or unchanged), so that a warm walk reads no unwind table at all. libgcc's
 * _Unwind_Backtrace re-reads the tables on every walk (~10,000 instructions a sample).
 *
 * The recorded frames are those _Unwind_Backtrace reports for the same stack: the return
 * addresses, innermost first, the frame of a PC without a rule ending the walk after it, leading
 * frames inside [skip_lo, skip_hi) left out. What the walker does not handle (a CFA or register
 * rule given as a DWARF expression, a signal frame, an unknown augmentation, a PC without an
 * FDE, a stack whose bounds it cannot tell) makes the walk answer -1: the caller then unwinds
 * that stack with _Unwind_Backtrace, as before.
 *
 * Must: never allocate, take no lock, send no signal; read the stack only inside the thread's
 * own stack (from the current rsp up to its TCB, or up to __libc_stack_end on the main thread),
 * each frame's CFA strictly above the one before; read unwind tables only inside the FDE/CIE
 * lengths. The cache is per thread (no sharing, a fork's child inherits the forking thread's,
 * which stays valid: same mappings); heap_unwind_forget() drops every thread's cache (dlclose).
 */
#ifndef HEADROOM_HEAP_UNWIND_H
#define HEADROOM_HEAP_UNWIND_H

#include <stdint.h>

/* resolves _dl_find_object; 0, or -ENOSYS when the walker cannot work here (every walk -1) */
int heap_unwind_setup(void);

/* up to max return addresses of the calling thread's stack into pc; their count, or -1 */
int heap_unwind_walk(uint64_t *pc, int max, uintptr_t skip_lo, uintptr_t skip_hi);

/* a library was (or is being) unloaded: the cached rules of its PCs must not be used again */
void heap_unwind_forget(void);

/* counters of the calling thread, for tests: rules computed, walks handed to the fallback */
void heap_unwind_counts(uint64_t *misses, uint64_t *fallbacks);

#endif
