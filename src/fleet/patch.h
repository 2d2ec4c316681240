/* patch: one strategic-merge patch per workload, setting each sized container's memory request
 * and limit, in the form `kubectl patch --type strategic --patch-file` and kustomize's
 * patchesStrategicMerge accept (apiVersion, kind and metadata identify the target; containers are
 * merged by name). Names from Prometheus are hostile: a workload whose kind is unknown or guessed,
 * or whose names are not DNS-1123 (so not safe in a file name or YAML), gets no patch and a reason.
 * Files are created inside DIR only (openat, O_NOFOLLOW), named <namespace>.<kind>.<name>.yaml.
 */
#ifndef HEADROOM_PATCH_H
#define HEADROOM_PATCH_H

#include <stddef.h>

#include "fleet.h"

/* Calls skipped(ctx, row, reason) for each workload left without a patch. Returns the number of
 * files written or a negative errno (why says which file). */
int fleet_patch_write(const struct fleet_result *r, const char *dir,
                      void (*skipped)(void *ctx, const struct fleet_row *w, const char *reason), void *ctx,
                      char *why, size_t whylen);

#endif
