/* size_opts: the option ids and table `headroom size` shares between sizing from recordings
 * (cmd_size.c, which owns the table) and from Prometheus (cmd_size_prometheus.c). */
#ifndef HEADROOM_CLI_SIZE_OPTS_H
#define HEADROOM_CLI_SIZE_OPTS_H

#include "opts.h"

enum { OPT_HEADROOM = 256, OPT_QOS, OPT_REPLICAS, OPT_SURGE, OPT_HPA_TARGET, OPT_FORMAT, OPT_JSON, OPT_VERIFY,
       OPT_VERIFY_MARGIN, OPT_PROMETHEUS, OPT_SELECTOR, OPT_WINDOW, OPT_TIMEOUT, OPT_NO_REPLAY_LOAD, OPT_FAIL_ON,
       OPT_HTML_LINK, OPT_BY, OPT_PATCH, OPT_AT, OPT_STEP };

extern const struct cli_opt size_opts[];
extern const struct cli_help size_help;

#endif
