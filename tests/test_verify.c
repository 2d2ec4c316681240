/* verify_load_args: the load a recording stored for size --verify to replay is read back in chunk
 * order, and anything but the five load options (a hostile recording) is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "synth.h"
#include "verify.h"

static void replay_event(struct recording *rec, int64_t chunk, const char *detail)
{
	synth_event(rec, 1000, "load_replay", chunk);
	snprintf(rec->events[rec->nevents - 1].detail, sizeof(rec->events[0].detail), "%s", detail);
}

static int args_of(struct recording *rec, char ***ret)
{
	*ret = NULL;
	return verify_load_args(rec, ret);
}

static void test_roundtrip_in_chunk_order(void **state)
{
	struct recording *rec = synth_new(10, 100000000);
	synth_event(rec, 0, "ready", 0);
	/* chunks stored out of order (events are read back by time, not by index) */
	replay_event(rec, 1, "000/\",\"--path\",\"/a?b=1\",\"--rate\",\"250\",\"--cooldown\",\"500ms\"]");
	replay_event(rec, 0, "[\"--load\",\"1000ms:10,2000ms:~40\",\"--load-url\",\"http://127.0.0.1:23");
	char **a;
	assert_int_equal(args_of(rec, &a), 0);
	const char *want[] = {"--load", "1000ms:10,2000ms:~40", "--load-url", "http://127.0.0.1:23000/", "--path",
			      "/a?b=1", "--rate", "250", "--cooldown", "500ms", NULL};
	for (size_t i = 0; want[i]; i++)
		assert_string_equal(a[i], want[i]);
	assert_null(a[10]);
	free(a);
	synth_free(rec);
}

static void test_absent_and_malformed(void **state)
{
	char **a;
	struct recording *rec = synth_new(10, 100000000);
	assert_int_equal(args_of(rec, &a), -ENOENT);          /* no load recorded */
	synth_free(rec);

	static const char *const bad[] = {
		"[\"--load\",\"1s:1\",\"--record\",\"/tmp/x\"]",      /* an option a replay may not carry */
		"[\"--load\",\"1s:1\",\"--html\",\"/etc/passwd\"]",
		"[\"--load-url\",\"http://127.0.0.1:1/\",\"--load\",\"1s:1\"]",   /* --load must come first */
		"[\"--load\",\"1s:1\",\"--path\"]",                  /* an option without its value */
		"[\"--load\",\"\"]",                                 /* an empty value */
		"[\"--load\",1]",                                   /* not a string */
		"{\"--load\":\"1s:1\"}",                             /* not an array */
		"[\"--load\",\"1s:1\"",                              /* cut short */
		"[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rec = synth_new(10, 100000000);
		replay_event(rec, 0, bad[i]);
		a = (char **)0x1;
		assert_int_equal(verify_load_args(rec, &a), -EPROTO);
		assert_ptr_equal(a, (char **)0x1);                  /* untouched on failure */
		synth_free(rec);
	}
	/* a missing chunk 0: nothing to read */
	rec = synth_new(10, 100000000);
	replay_event(rec, 1, "\"--load\",\"1s:1\"]");
	assert_int_equal(args_of(rec, &a), -ENOENT);
	synth_free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_in_chunk_order),
		cmocka_unit_test(test_absent_and_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
