# bash completion for netc: its options (read from `netc --help`), the
# values of -emit, and .net or .onnx inputs. Installed as
# share/bash-completion/completions/netc; in a checkout:
#   source tools/completion/netc.bash
_netc() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local netc=${COMP_WORDS[0]} help IFS=$' \t\n'
  COMPREPLY=()
  help=$("$netc" --help 2>/dev/null) || return
  case $prev in
    -o) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -D | -O) return ;;
  esac
  case $cur in
    -emit=* | --emit=*)
      local values
      values=$(awk '/^  --emit=/ { on = 1; next } on && /^    =/ { sub(/^ *=/, ""); print $1; next } on { exit }' <<<"$help")
      COMPREPLY=($(compgen -P "${cur%%=*}=" -W "$values" -- "${cur#*=}"))
      return ;;
    -*)
      COMPREPLY=($(compgen -W "$(grep -o -- '^  --\?[A-Za-z][a-z-]*=\?' <<<"$help" | sed 's/^ *//')" -- "$cur"))
      [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
      return ;;
  esac
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(shopt -s extglob; compgen -f -X '!*.@(net|onnx)' -- "$cur") $(compgen -d -- "$cur"))
}
complete -F _netc netc
