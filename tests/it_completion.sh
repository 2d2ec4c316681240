#!/usr/bin/env bash
# Shell completions (completions/): bash's completion driven as bash itself calls it (COMP_WORDS,
# COMP_CWORD, the function `complete` registered), fish's through `complete -C`, zsh's parsed.
# Subcommands, options, option values, files where files go, the command after `--`, and every
# option of every man page offered by its subcommand's completion.
. "$(dirname "$0")/lib.sh"
: "${SRC:?SRC must point at the source tree}"
cd "$T"
BC=/usr/share/bash-completion/bash_completion
[ -f "$BC" ] || { echo "skip: bash-completion is not installed (scripts/install-deps.sh)"; exit 77; }
touch rec-one.hr rec-two.hr out-file.html
mkdir -p some-dir

# comp LINE: the candidates bash offers for LINE (the last word is the one being completed)
comp() {
  bash --norc --noprofile -c '
    source "$1" >/dev/null 2>&1
    source "$2"
    line=$3
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$line; COMP_POINT=${#line}
    fn=$(complete -p headroom | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
    "$fn" headroom "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$BC" "$SRC/completions/headroom.bash" "$1"
}
has() {  # has DESCRIPTION LINE WORD...: every WORD is offered for LINE
  local d=$1 line=$2; shift 2
  local got; got=$(comp "$line")
  for w in "$@"; do
    grep -qx -- "$w" <<<"$got" || { fail "$d: '$w' not offered for '$line' (got: $(echo $got))"; return; }
  done
  ok "$d"
}
only() {  # only DESCRIPTION LINE WORDS: exactly these are offered
  expect_eq "$1" "$(comp "$2" | tr '\n' ' ')" "$3"
}

has "subcommands and top options" "headroom " run attach load report size compare explain export --version --help
only "a subcommand prefix" "headroom ex" "explain export "
only "run's options by prefix" "headroom run --hea" "--heap --heap-interval --heap-metric "
only "heap modes" "headroom run --heap " "count off sites stats "
only "load profiles for run --load" "headroom run --load b" "burst "
only "load profiles for load --profile" "headroom load http://127.0.0.1:8080/ --profile " "burst ramp soak steady "
only "run's formats" "headroom run --format " "json markdown text "
has "size's formats include markdown and yaml" "headroom size --format " markdown yaml json text
only "qos classes" "headroom size --qos " "burstable guaranteed "
only "--fail-on classes" "headroom run --fail-on " "growing oom over-limit under-sized "
only "--fail-on after a comma completes the next class" "headroom size --fail-on growing,o" "growing,oom growing,over-limit "
only "recordings where recordings go" "headroom report rec-" "rec-one.hr rec-two.hr "
only "files for --html" "headroom run --html out-" "out-file.html "
only "directories for --cgroup" "headroom attach --cgroup some-" "some-dir "
only "no guess for a user's value (--limit)" "headroom run --limit " ""
has "the command after -- is completed as a command" "headroom run --limit 64Mi -- bas" bash
has "... with its own options left alone" "headroom size rec-one.hr --verify -- ech" echo

# every option of every man page is offered by its subcommand's completion
for page in "$SRC"/docs/man/headroom-*.1.scd; do
  c=$(basename "$page" .1.scd); c=${c#headroom-}
  opts=$(awk '/^# OPTIONS/ {f = 1; next} /^# / {f = 0} f && /^\*--[a-z]/' "$page" | grep -o '^\*--[a-z][a-z-]*' | tr -d '*')
  [ -n "$opts" ] || continue
  # shellcheck disable=SC2086
  has "bash offers every option of headroom-$c(1)" "headroom $c --" $opts
  if command -v fish >/dev/null; then
    got=$(fish --no-config -c "source $SRC/completions/headroom.fish; complete -C 'headroom $c --'" | cut -f1)
    missing=$(comm -23 <(echo "$opts" | sort -u) <(echo "$got" | sort -u) | tr '\n' ' ')
    expect_eq "fish offers every option of headroom-$c(1)" "$missing" ""
  fi
done

if command -v fish >/dev/null; then
  got=$(fish --no-config -c "source $SRC/completions/headroom.fish; complete -C 'headroom run --heap '" | cut -f1 | sort | tr '\n' ' ')
  expect_eq "fish: heap modes" "$got" "count off sites stats "
  got=$(fish --no-config -c "source $SRC/completions/headroom.fish; complete -C 'headroom '" | cut -f1 | sort | tr '\n' ' ')
  check "fish: subcommands ($got)" grep -q "attach compare explain export load report run size" <<<"$got"
fi
if command -v zsh >/dev/null; then
  check "zsh: the completion parses" zsh -n "$SRC/completions/_headroom"
  # compinit loads it from a directory on fpath and registers it for headroom
  reg=$(zsh -f -c "fpath=($SRC/completions \$fpath); autoload -Uz compinit; compinit -u -D; print -r -- \${_comps[headroom]}")
  expect_eq "zsh: compinit registers _headroom for headroom" "$reg" "_headroom"
fi
finish
