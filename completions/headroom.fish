# fish completion for headroom(1): subcommands, options, option values, files where files go.
# Installed as share/fish/vendor_completions.d/headroom.fish.

set -l cmds run attach load report size compare explain export
complete -c headroom -f
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a run -d 'run a command and record its memory'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a attach -d 'record a running process or cgroup'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a load -d 'staged HTTP load at a loopback URL'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a report -d 'the analysis of a recording'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a size -d 'Kubernetes requests and limits'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a compare -d 'two recordings side by side'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a explain -d 'every figure and its source'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -a export -d 'Prometheus metrics with exact peaks'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -l version -d 'version and git description'
complete -c headroom -n "not __fish_seen_subcommand_from $cmds" -l help -d 'usage of every command'

# run and attach
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l interval -x -d 'sampling interval'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l duration -x -d 'stop after'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l record -r -F -d 'recording file'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l json -d 'analysis as JSON'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l format -x -a 'text json markdown' -d 'output format'
complete -c headroom -n '__fish_seen_subcommand_from run attach size' -l fail-on -x -a 'growing oom over-limit under-sized' -d 'exit 10..13 on a finding'
complete -c headroom -n '__fish_seen_subcommand_from run attach report compare' -l html -r -F -d 'HTML report'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l out -r -F -d 'the report to a file'
complete -c headroom -n '__fish_seen_subcommand_from report' -l pprof -r -F -d 'heap sites as a pprof profile'
complete -c headroom -n '__fish_seen_subcommand_from report' -l at -x -a 'peak end' -d 'instant of the pprof profile'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l quiet -d 'no live line, no report'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l metrics -x -d 'heap from a Prometheus page'
complete -c headroom -n '__fish_seen_subcommand_from run attach' -l heap-metric -x -a 'live= held=' -d 'ROLE=NAME heap series'
complete -c headroom -n '__fish_seen_subcommand_from run' -l limit -x -d 'cgroup memory limit (256Mi)'
complete -c headroom -n '__fish_seen_subcommand_from run' -l grace -x -d 'SIGTERM to SIGKILL'
complete -c headroom -n '__fish_seen_subcommand_from run' -l heap -x -a 'stats count off' -d 'heap figures'
complete -c headroom -n '__fish_seen_subcommand_from run' -l no-heap -d 'no heap shim'
complete -c headroom -n '__fish_seen_subcommand_from run' -l no-cgroup -d 'RSS only'
complete -c headroom -n '__fish_seen_subcommand_from run' -l ready -x -d 'ready when HOST:PORT accepts'
complete -c headroom -n '__fish_seen_subcommand_from run' -l ready-timeout -x -d 'give up after'
complete -c headroom -n '__fish_seen_subcommand_from run' -l load -x -a 'steady burst ramp soak' -d 'load profile or stages'
complete -c headroom -n '__fish_seen_subcommand_from run' -l load-url -x -d 'URL to load'
complete -c headroom -n '__fish_seen_subcommand_from run load' -l path -x -d 'request path'
complete -c headroom -n '__fish_seen_subcommand_from run load' -l connections -x -d 'connections'
complete -c headroom -n '__fish_seen_subcommand_from run load' -l rate -x -d 'requests per second'
complete -c headroom -n '__fish_seen_subcommand_from run' -l cooldown -x -d 'record after the load'
complete -c headroom -n '__fish_seen_subcommand_from run' -l max-error-rate -x -d 'a load with more errors fails (5%)'
complete -c headroom -n '__fish_seen_subcommand_from attach export' -l pid -x -a '(__fish_complete_pids)' -d 'process'
complete -c headroom -n '__fish_seen_subcommand_from attach export' -l cgroup -x -a '(__fish_complete_directories)' -d 'cgroup directory'
# load
complete -c headroom -n '__fish_seen_subcommand_from load' -l stages -x -d 'DUR:N,...'
complete -c headroom -n '__fish_seen_subcommand_from load' -l profile -x -a 'steady burst ramp soak' -d 'load shape'
complete -c headroom -n '__fish_seen_subcommand_from load' -l threads -x -d 'worker threads'
complete -c headroom -n '__fish_seen_subcommand_from load' -l method -x -a 'GET HEAD POST PUT DELETE PATCH OPTIONS' -d 'method'
complete -c headroom -n '__fish_seen_subcommand_from load' -l header -x -d 'Name: value'
complete -c headroom -n '__fish_seen_subcommand_from load' -l body -x -d 'request body'
complete -c headroom -n '__fish_seen_subcommand_from load size export' -l timeout -x -d 'timeout'
complete -c headroom -n '__fish_seen_subcommand_from load' -l max-requests -x -d 'at most'
complete -c headroom -n '__fish_seen_subcommand_from load report compare size' -l json -d 'as JSON'
# report, compare, explain, size: recordings
complete -c headroom -n '__fish_seen_subcommand_from report compare explain size' -F
complete -c headroom -n '__fish_seen_subcommand_from size' -l headroom -x -d 'above the peak (25%)'
complete -c headroom -n '__fish_seen_subcommand_from size' -l qos -x -a 'guaranteed burstable' -d 'QoS class'
complete -c headroom -n '__fish_seen_subcommand_from size' -l replicas -x -d 'pods starting together'
complete -c headroom -n '__fish_seen_subcommand_from size' -l surge -x -d 'rolling update surge'
complete -c headroom -n '__fish_seen_subcommand_from size' -l hpa-target -x -d 'HPA utilisation'
complete -c headroom -n '__fish_seen_subcommand_from size' -l format -x -a 'yaml json text markdown table csv' -d 'output format'
complete -c headroom -n '__fish_seen_subcommand_from size' -l html-link -x -d 'HTML report URL'
complete -c headroom -n '__fish_seen_subcommand_from size' -l verify -d 'replay under the limit'
complete -c headroom -n '__fish_seen_subcommand_from size' -l verify-margin -d 'and under 0.9 x the peak'
complete -c headroom -n '__fish_seen_subcommand_from size' -l no-replay-load -d 'replay without the recorded load'
complete -c headroom -n '__fish_seen_subcommand_from size' -l prometheus -x -d 'Prometheus URL'
complete -c headroom -n '__fish_seen_subcommand_from size' -l selector -x -d 'label selector'
complete -c headroom -n '__fish_seen_subcommand_from size' -l window -x -d 'history to read'
# export
complete -c headroom -n '__fish_seen_subcommand_from export' -l cgroup-root -x -a '(__fish_complete_directories)' -d 'every cgroup under'
complete -c headroom -n '__fish_seen_subcommand_from export' -l listen -x -d 'HOST:PORT'
complete -c headroom -n '__fish_seen_subcommand_from export' -l interval -x -d 'sampling interval'
complete -c headroom -n '__fish_seen_subcommand_from export' -l peak-window -x -d 'peak window'
complete -c headroom -n '__fish_seen_subcommand_from export' -l rescan -x -d 'rescan'
complete -c headroom -n '__fish_seen_subcommand_from export' -l duration -x -d 'stop after'
complete -c headroom -n '__fish_seen_subcommand_from export' -l reset-peaks -d "reset the programs' own peaks"
complete -c headroom -n '__fish_seen_subcommand_from export' -l host-root -x -a '(__fish_complete_directories)' -d 'the node root'
complete -c headroom -n '__fish_seen_subcommand_from export' -l containerd-state -x -a '(__fish_complete_directories)' -d "containerd's state"
complete -c headroom -n '__fish_seen_subcommand_from export' -l crio-state -x -a '(__fish_complete_directories)' -d "CRI-O's records"
complete -c headroom -n '__fish_seen_subcommand_from export' -l docker-root -x -a '(__fish_complete_directories)' -d "docker's records"
complete -c headroom -n '__fish_seen_subcommand_from export' -l podman-root -x -a '(__fish_complete_directories)' -d "podman's records"
# size --prometheus
complete -c headroom -n '__fish_seen_subcommand_from size' -l by -x -a 'workload series' -d 'group by'
complete -c headroom -n '__fish_seen_subcommand_from size' -l patch -x -a '(__fish_complete_directories)' -d 'one patch per workload into'
complete -c headroom -n '__fish_seen_subcommand_from size' -l at -x -d 'end of the window (unix time)'
complete -c headroom -n '__fish_seen_subcommand_from size' -l step -x -d 'query resolution'
