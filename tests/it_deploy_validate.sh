#!/usr/bin/env bash
# deploy/kubernetes/*.yaml checked against the Kubernetes API schemas by a real validator
# (npm kubernetes-models + @kubernetes-models/prometheus-operator, exact versions from
# deploy/validate/package-lock.json, installed into the build tree), which must also reject broken
# copies; and the DaemonSet's arguments are ones headroom export accepts.
. "$(dirname "$0")/lib.sh"
cd "$T"
for tool in node npm python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/install-deps.sh node)"; exit 77; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "skip: python3-yaml not installed"; exit 77; }
V=$BUILD/deploy-validate
if ! "$SRC/deploy/validate/install.sh" "$V" 2> install.err; then
  echo "skip: the validator's npm packages could not be installed (no registry, no cache): $(tail -1 install.err)"
  exit 77
fi
K=$SRC/deploy/kubernetes
node "$V/validate.mjs" "$K"/*.yaml > out.txt; rc=$?
cat out.txt | sed 's/^/     /'
expect_eq "every manifest validates" "$rc" 0
expect_eq "five objects: Namespace, ServiceAccount, DaemonSet, Service, ServiceMonitor" \
  "$(grep -c ': ok ' out.txt)" 5

# the validator is not a rubber stamp: each of these is refused, saying where
bad() { # DESCRIPTION EXPECTED SED FILE
  sed "$3" "$K/$4" > bad.yaml
  set +e; local o; o=$(node "$V/validate.mjs" bad.yaml); local r=$?; set -e
  if [ "$r" -eq 1 ] && grep -q -- "$2" <<<"$o"; then ok "$1"; else fail "$1: rc=$r '$o'"; fi
}
bad "a port that is not a number" "containerPort must be integer" 's/containerPort: 9464/containerPort: "x"/' daemonset.yaml
bad "a DaemonSet without a selector" "required property selector" 's/^  selector:/  selectr:/' daemonset.yaml
bad "an unknown hostPath type" "hostPath/type must be equal to one of the allowed values" 's/type: Directory/type: Folder/' daemonset.yaml
bad "a ServiceMonitor interval that is no duration" "interval must match pattern" 's/interval: 15s/interval: 15 seconds/' servicemonitor.yaml

# least privilege as promised in deploy/README.md: read-only mounts, only SYS_PTRACE
python3 - "$K/daemonset.yaml" > sec.txt <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
c = d["spec"]["template"]["spec"]["containers"][0]
sc = c["securityContext"]
print("mounts-ro", all(m.get("readOnly") for m in c["volumeMounts"]))
print("caps", ",".join(sc["capabilities"]["drop"]), "+", ",".join(sc["capabilities"]["add"]))
print("rootfs-ro", sc["readOnlyRootFilesystem"], "escalation", sc["allowPrivilegeEscalation"], "privileged", sc["privileged"])
print("limits", "memory" in c["resources"]["limits"], "probe", "readinessProbe" in c)
print("args", " ".join(c["args"]))
PY
expect_eq "every host mount is read-only" "$(sed -n 's/^mounts-ro //p' sec.txt)" True
expect_eq "all capabilities dropped but SYS_PTRACE" "$(sed -n 's/^caps //p' sec.txt)" "ALL + SYS_PTRACE"
expect_eq "read-only root, no escalation, not privileged" "$(sed -n 's/^rootfs-ro //p' sec.txt)" "True escalation False privileged False"
expect_eq "a memory limit and a readiness probe" "$(sed -n 's/^limits //p' sec.txt)" "True probe True"
# the DaemonSet's arguments, with the node's paths replaced by a scratch directory, start headroom
read -r -a args <<<"$(sed -n 's/^args //p' sec.txt)"
mkdir -p node/sys/fs/cgroup/kubepods.slice node/run/containerd
run=()
for a in "${args[@]}"; do
  case "$a" in
    --cgroup-root=*) run+=("--cgroup-root=$T/node/sys/fs/cgroup/kubepods.slice") ;;
    --host-root=*) run+=("--host-root=$T/node") ;;
    --listen=*) run+=("--listen=127.0.0.1:0") ;;
    *) run+=("$a") ;;
  esac
done
set +e; timeout 10 "$HEADROOM" "${run[@]}" --duration 500ms 2> args.err; rc=$?; set -e
expect_eq "headroom accepts the DaemonSet's arguments (${args[*]})" "$rc" 0
finish
