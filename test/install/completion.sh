#!/usr/bin/env bash
# netrun's and netc's bash completion (tools/completion), run as bash runs
# it: COMP_WORDS and COMP_CWORD set, the function called, COMPREPLY read.
#   usage: completion.sh NETRUN NETC SOURCE-DIR
set -uo pipefail
netrun=$1 netc=$2 source=$3
failures=0
source "$source/tools/completion/netrun.bash"
source "$source/tools/completion/netc.bash"
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
mkdir -p "$top/sub"
touch "$top/a.so" "$top/b.ckpt" "$top/c.png" "$top/d.onnx" "$top/e.net" "$top/notes.txt"
cd "$top"

# expect WANTED WORD...: completing the last WORD gives WANTED (sorted, spaces between).
expect() {
  local wanted=$1 function=_netrun
  shift
  [ "$1" = "$netc" ] && function=_netc
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  $function
  local got
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
  if [ "$got" != "$wanted" ]; then
    echo "FAIL: '${*:2}' completes to '$got', expected '$wanted'"
    failures=$((failures + 1))
  fi
}

expect "train" "$netrun" tr
expect "eval export export-images info plot predict show train" "$netrun" ""
expect "--epochs" "$netrun" train --ep
expect "auto cpu cuda" "$netrun" train --device ""
expect "val_accuracy val_loss" "$netrun" train --resume --monitor ""
expect "--monitor" "$netrun" train --resume --mon
expect "" "$netrun" eval --mon                         # not an option of eval
expect "--help" "$netrun" plot --
expect "" "$netrun" train --epochs ""                  # a number: nothing to offer
expect "$top/a.so $top/sub" "$netrun" train "$top/"
expect "$top/b.ckpt $top/sub" "$netrun" eval x.so --weights "$top/"
expect "fashion-mnist mnist sub" "$netrun" train x.so --data ""
expect "$top/a.so $top/sub" "$netrun" predict "$top/"
expect "$top/c.png $top/sub" "$netrun" predict --weights w.ckpt x.so "$top/"
expect "$top/sub" "$netrun" plot "$top/"
expect "$top/c.png $top/sub" "$netrun" show --data mnist --out "$top/"
expect "$top/sub" "$netrun" train x.so --out "$top/"
expect "--emit=" "$netc" --em
expect "-emit=planned -emit=planned-cuda" "$netc" -emit=pl
expect "$top/d.onnx $top/e.net $top/sub" "$netc" "$top/"
expect "--no-cuda --no-fuse" "$netc" --no

[ $failures -eq 0 ] || exit 1
echo "PASS: netrun and netc complete verbs, options, choices and files"
