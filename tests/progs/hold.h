/* hold: the idle loop shared by the test programs — keep running for `seconds` (or until killed,
 * when seconds <= 0) without calling malloc or free: an idle program must still be measured as
 * it is (the heap shim's service thread answers for it), so the test programs do not help. */
#ifndef HEADROOM_TESTPROG_HOLD_H
#define HEADROOM_TESTPROG_HOLD_H

#include <errno.h>
#include <time.h>
#include <unistd.h>

static void hold(double seconds)
{
	if (seconds <= 0) {
		for (;;)
			pause();
	}
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#endif
