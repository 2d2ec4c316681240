#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "analyze.h"
#include "record.h"
#include "verify.h"

/* the run options a replay may carry; anything else in a recording is refused */
static const char *const replay_options[] = {"--load", "--ready", "--load-url", "--path", "--rate", "--cooldown", NULL};

static bool replay_option(const char *s)
{
	for (size_t i = 0; replay_options[i]; i++)
		if (strcmp(s, replay_options[i]) == 0)
			return true;
	return false;
}

int verify_load_args(const struct recording *rec, char ***ret_args)
{
	/* the chunks, in the order of their index (the event value) */
	char text[VERIFY_LOAD_ARGS_MAX * 64 + 1];
	size_t n = 0;
	int64_t next = 0;
	bool found = true;
	while (found) {
		found = false;
		for (size_t i = 0; i < rec->nevents; i++) {
			const struct record_event *e = &rec->events[i];
			if (strcmp(e->kind, "load_replay") != 0 || e->value != next)
				continue;
			size_t len = strnlen(e->detail, sizeof(e->detail));
			if (n + len >= sizeof(text))
				return -EPROTO;
			memcpy(text + n, e->detail, len);
			n += len;
			next++;
			found = true;
			break;
		}
	}
	if (next == 0)
		return -ENOENT;
	text[n] = '\0';

	int rc = -EPROTO;
	char **argv = NULL;
	struct json_object *arr = json_tokener_parse(text);
	if (!arr || !json_object_is_type(arr, json_type_array))
		goto out;
	size_t count = json_object_array_length(arr);
	if (count < 2 || count % 2 || count > VERIFY_LOAD_ARGS_MAX)
		goto out;
	/* one allocation: the pointers, then the strings */
	size_t bytes = (count + 1) * sizeof(char *);
	for (size_t i = 0; i < count; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string))
			goto out;
		const char *s = json_object_get_string(v);
		/* options at even places, from the list; values at odd places, non-empty */
		if (i % 2 == 0 ? !replay_option(s) : s[0] == '\0')
			goto out;
		bytes += strlen(s) + 1;
	}
	if (strcmp(json_object_get_string(json_object_array_get_idx(arr, 0)), "--load") != 0)
		goto out;
	argv = malloc(bytes);
	if (!argv) {
		rc = -ENOMEM;
		goto out;
	}
	char *p = (char *)(argv + count + 1);
	for (size_t i = 0; i < count; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
		size_t len = strlen(s) + 1;
		memcpy(p, s, len);
		argv[i] = p;
		p += len;
	}
	argv[count] = NULL;
	*ret_args = argv;
	argv = NULL;
	rc = 0;
out:
	free(argv);
	json_object_put(arr);
	return rc;
}

int verify_run(const char *self, int64_t limit_bytes, char *const *command, char *const *load_args,
	       const char *record_path, struct verify_result *ret)
{
	if (!self || !command || !command[0] || !record_path || !ret || limit_bytes <= 0)
		return -EINVAL;
	size_t ncmd = 0, nload = 0;
	while (command[ncmd])
		ncmd++;
	while (load_args && load_args[nload])
		nload++;
	char limit[32];
	snprintf(limit, sizeof(limit), "%lld", (long long)limit_bytes);
	const char *head[] = {self, "run", "--limit", limit, "--interval", "50ms", "--record", record_path, "--quiet"};
	const size_t nhead = sizeof(head) / sizeof(head[0]);
	char **argv = calloc(nhead + nload + 1 + ncmd + 1, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < nhead; i++)
		argv[k++] = (char *)head[i];
	for (size_t i = 0; i < nload; i++)
		argv[k++] = load_args[i];
	argv[k++] = (char *)"--";
	for (size_t i = 0; i < ncmd; i++)
		argv[k++] = command[i];

	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		free(argv);
		return e;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execv(self, argv);
		_exit(127);
	}
	free(argv);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;

	struct recording *rec;
	struct analysis *a;
	int r = analyze_file(record_path, &rec, &a);
	if (!rec)
		return r;
	if (r == 0 || r == -ENODATA) {
		struct verify_result v = {
			.limit_bytes = limit_bytes,
			.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			.oom_killed = rec->run.oom_killed || a->cg_oom_kills > 0,
			.limit_hits = a->cg_limit_hits,
			.peak_bytes = a->peak,
			.duration_ns = a->duration_ns,
		};
		for (size_t i = 0; i < rec->nevents; i++)
			if (strcmp(rec->events[i].kind, "oom_kill") == 0)
				v.oom_killed = true;
		*ret = v;
		r = 0;
	}
	analyze_file_free(rec, a);
	return r;
}
