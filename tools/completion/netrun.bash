# bash completion for netrun: its verbs, each verb's options and their
# values. Verbs and options are read from `netrun --help` and
# `netrun VERB --help`, so they follow netrun's option table; a value
# written as a|b|c in that help is completed from its choices.
# Installed as share/bash-completion/completions/netrun; in a checkout:
#   source tools/completion/netrun.bash

# The metavariable of FLAG in a verb's help ("" for a flag without value).
_netrun_metavar() {
  local help=$1 flag=$2 line
  while IFS= read -r line; do
    if [[ $line =~ ^\ \ (--[a-z0-9-]+)(\ ([^\ ]+))?(\ \ |$) && ${BASH_REMATCH[1]} == "$flag" ]]; then
      printf '%s' "${BASH_REMATCH[3]}"
      return
    fi
  done <<<"$help"
}

# Files ending in one of the given extensions, and folders to walk into.
_netrun_files() {
  local cur=$1 pattern
  shift
  pattern="!*.@($(IFS='|'; echo "$*"))"
  compopt -o filenames 2>/dev/null
  COMPREPLY+=($(shopt -s extglob; compgen -f -X "$pattern" -- "$cur") $(compgen -d -- "$cur"))
}

_netrun() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local netrun=${COMP_WORDS[0]} IFS=$' \t\n'
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    local verbs
    verbs=$("$netrun" --help 2>/dev/null | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
    COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
    return
  fi
  local verb=${COMP_WORDS[1]} help
  help=$("$netrun" "$verb" --help 2>/dev/null) || return
  if [[ $prev == --* ]]; then
    local metavar
    metavar=$(_netrun_metavar "$help" "$prev")
    case $prev in
      --data) COMPREPLY=($(compgen -W "mnist fashion-mnist" -- "$cur")); _netrun_files "$cur" ; return ;;
      --weights) _netrun_files "$cur" ckpt; return ;;
      --onnx) _netrun_files "$cur" onnx; return ;;
      --csv) _netrun_files "$cur" csv; return ;;
      --out)
        if [ "$verb" = show ]; then _netrun_files "$cur" png; return; fi
        compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return ;;
      --validation-data) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    if [[ $metavar == *"|"* && $metavar != *[A-Z]* ]]; then
      COMPREPLY=($(compgen -W "${metavar//|/ }" -- "$cur"))
      return
    fi
    [ -n "$metavar" ] && return # a number, a rate, a name: nothing to offer
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(grep -o -- '^  --[a-z0-9-]*' <<<"$help")" -- "$cur"))
    return
  fi
  case $verb in
    plot) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
    export-images | show) ;;
    predict)
      # The model first, then images.
      local i positional=0
      for ((i = 2; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -* ]] && continue
        [[ ${COMP_WORDS[i-1]} == --* && -n $(_netrun_metavar "$help" "${COMP_WORDS[i-1]}") ]] && continue
        positional=$((positional + 1))
      done
      if [ $positional -eq 0 ]; then _netrun_files "$cur" so; else _netrun_files "$cur" png jpg jpeg pgm PNG JPG JPEG; fi ;;
    *) _netrun_files "$cur" so ;;
  esac
}
complete -F _netrun netrun
