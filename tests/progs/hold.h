/* hold: the idle loop shared by the test programs — keep running for `seconds` (or until killed),
 * with one small malloc/free every 10 ms, like any service that keeps working: the heap shim's
 * stats mode publishes on a malloc or free after headroom asks. */
#ifndef HEADROOM_TESTPROG_HOLD_H
#define HEADROOM_TESTPROG_HOLD_H

#include <stdlib.h>
#include <time.h>

static void hold(double seconds)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	for (long i = 0; seconds <= 0 || i < (long)(seconds * 100); i++) {
		void *volatile p = malloc(64);
		free(p);
		nanosleep(&ts, NULL);
	}
}

#endif
