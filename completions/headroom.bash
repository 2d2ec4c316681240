# bash completion for headroom(1): subcommands, options, option values, files where files go,
# and the command after `--` (run, size --verify). Installed as
# share/bash-completion/completions/headroom; tested by tests/it_completion.sh.

_headroom_opts() {   # _headroom_opts SUBCOMMAND: its options
	case $1 in
	run) echo "--limit --interval --record --duration --grace --heap --heap-interval --no-heap --metrics --heap-metric --no-cgroup --ready
		--ready-timeout --load --load-url --path --connections --rate --cooldown --max-error-rate --json --format
		--fail-on --out --html --quiet" ;;
	attach) echo "--pid --cgroup --metrics --heap-metric --interval --duration --record --json --format --fail-on --out --html --quiet" ;;
	load) echo "--stages --profile --rate --connections --threads --method --path --header --body --timeout
		--max-requests --json" ;;
	report) echo "--json --html --pprof --at" ;;
	size) echo "--headroom --qos --replicas --surge --hpa-target --format --json --fail-on --html-link --verify
		--verify-margin --no-replay-load --prometheus --selector --window --timeout --by --patch --at --step" ;;
	compare) echo "--json --html" ;;
	explain) echo "" ;;
	export) echo "--pid --cgroup --cgroup-root --listen --interval --peak-window --rescan --timeout --duration
		--reset-peaks --host-root --containerd-state --crio-state --docker-root --podman-root" ;;
	esac
}

# --fail-on takes a comma-separated list: complete the class after the last comma
_headroom_fail_on() {
	local cur=$1 prefix="" word
	[[ $cur == *,* ]] && prefix=${cur%,*},
	COMPREPLY=()
	for word in growing oom over-limit under-sized; do
		[[ $prefix$word == "$cur"* ]] && COMPREPLY+=("$prefix$word")
	done
	[[ ${#COMPREPLY[@]} -eq 1 ]] && compopt -o nospace 2>/dev/null
	return 0
}

_headroom() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion -n = || return
	else
		cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
	fi
	local cmds="run attach load report size compare explain export"
	if [[ $cword -eq 1 ]]; then
		COMPREPLY=($(compgen -W "$cmds --version --help" -- "$cur"))
		return
	fi
	local sub=${words[1]} i
	# after `--` comes a command and its own arguments
	for ((i = 2; i < cword; i++)); do
		if [[ ${words[i]} == -- ]]; then
			if declare -F _command_offset >/dev/null; then
				_command_offset $((i + 1))
			else
				COMPREPLY=($(compgen -c -- "$cur"))
			fi
			return
		fi
	done
	case $prev in
	--heap) COMPREPLY=($(compgen -W "stats count sites off" -- "$cur")); return ;;
	--load | --profile) COMPREPLY=($(compgen -W "steady burst ramp soak" -- "$cur")); return ;;
	--qos) COMPREPLY=($(compgen -W "guaranteed burstable" -- "$cur")); return ;;
	--format)
		case $sub in
		size) COMPREPLY=($(compgen -W "yaml json text markdown table csv" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "text json markdown" -- "$cur")) ;;
		esac
		return ;;
	--fail-on) _headroom_fail_on "$cur"; return ;;
	--method) COMPREPLY=($(compgen -W "GET HEAD POST PUT DELETE PATCH OPTIONS" -- "$cur")); return ;;
	--at) [ "$sub" = report ] && COMPREPLY=($(compgen -W "end peak" -- "$cur")); return ;;
	--record | --html | --pprof) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--cgroup | --cgroup-root | --patch | --host-root | --containerd-state | --crio-state | --docker-root | \
	--podman-root)
		COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--by) COMPREPLY=($(compgen -W "workload series" -- "$cur")); return ;;
	--pid) COMPREPLY=($(compgen -W "$(cd /proc 2>/dev/null && echo [0-9]*)" -- "$cur")); return ;;
	--limit | --interval | --duration | --grace | --ready | --ready-timeout | --load-url | --path | \
	--connections | --rate | --cooldown | --stages | --threads | --header | --body | --timeout | \
	--max-requests | --headroom | --replicas | --surge | --hpa-target | --html-link | --prometheus | \
	--selector | --window | --listen | --peak-window | --rescan | --max-error-rate | --at | --step)
		return ;;   # a value of the user's: nothing to offer
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_headroom_opts "$sub")" -- "$cur"))
		return
	fi
	case $sub in
	report | size | compare | explain)   # recordings
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null ;;
	esac
}
complete -F _headroom headroom
