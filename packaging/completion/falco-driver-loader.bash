# bash completion for falco-driver-loader                                   -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/falco-driver-loader (loaded on demand by bash-completion).
#
# Options and driver words are read from the loader's own --help (once per shell; --help only prints), so they follow
# the usage text (src/cli/usage.ts) without being listed here. Only the values of some options are known here.

_falco_driver_loader_parse_help() {
  [[ -n ${_falco_driver_loader_opts+x} ]] && return 0
  local help line section=
  help=$(command falco-driver-loader --help 2>/dev/null) || return 1
  _falco_driver_loader_opts=() _falco_driver_loader_valued=() _falco_driver_loader_drivers=()
  while IFS= read -r line; do
    case $line in
      'Available drivers:') section=drivers; continue ;;
      'Options:') section=options; continue ;;
      '') section=; continue ;;
    esac
    if [[ $section == drivers && $line =~ ^\ \ ([a-z_]+)(,\ ([a-z_]+))?\ \  ]]; then
      _falco_driver_loader_drivers+=("${BASH_REMATCH[1]}" ${BASH_REMATCH[3]:+"${BASH_REMATCH[3]}"})
    elif [[ $section == options && $line =~ ^\ \ (-h,\ )?(--[a-z][a-z-]*)(\ \<[a-z]+\>)? ]]; then
      [[ -n ${BASH_REMATCH[1]} ]] && _falco_driver_loader_opts+=(-h)
      _falco_driver_loader_opts+=("${BASH_REMATCH[2]}")
      [[ -n ${BASH_REMATCH[3]} ]] && _falco_driver_loader_valued+=("${BASH_REMATCH[2]}")
    fi
  done <<<"$help"
}

_falco_driver_loader() {
  local cur prev word d
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()
  _falco_driver_loader_parse_help || return 0

  case $prev in
    --kernel-release)
      # Kernels with modules installed are the likely targets.
      local releases=() dir
      for dir in /lib/modules/*/; do
        [[ -d $dir ]] && releases+=("$(basename "$dir")")
      done
      COMPREPLY=($(compgen -W "${releases[*]}" -- "$cur"))
      return 0
      ;;
    --falcoctl) COMPREPLY=($(compgen -W 'auto never always' -- "$cur")); return 0 ;;
    --sign-hash) COMPREPLY=($(compgen -W 'sha256 sha384 sha512 sha224' -- "$cur")); return 0 ;;
    --sign-tool) COMPREPLY=($(compgen -W 'auto sign-file kmodsign builtin' -- "$cur")); return 0 ;;
    --sign-key | --sign-cert) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
  esac
  for word in "${_falco_driver_loader_valued[@]}"; do
    [[ $prev == "$word" ]] && return 0 # a free-form value: nothing to offer
  done

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${_falco_driver_loader_opts[*]}" -- "$cur"))
    return 0
  fi
  # At most one driver word per invocation.
  for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    for d in "${_falco_driver_loader_drivers[@]}"; do
      [[ $word == "$d" ]] && return 0
    done
  done
  COMPREPLY=($(compgen -W "${_falco_driver_loader_drivers[*]}" -- "$cur"))
}

complete -F _falco_driver_loader falco-driver-loader
