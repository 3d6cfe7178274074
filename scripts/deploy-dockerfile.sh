#!/usr/bin/env bash
# Keeps the Dockerfile honest on a machine without a container engine (issue 17).
#
# It reads the Dockerfile itself, not a copy of it:
#   1. the build stage: its COPY lines are copied (minus .dockerignore) into an emptied directory
#      (target/docker-emulation/context: a fixed path, so cargo's fingerprints survive) and its RUN
#      cargo command runs there, offline and --locked, with CARGO_TARGET_DIR=target/docker-emulation
#      so a re-run is incremental;
#   2. the runtime stage: only its files (COPY --from=build, COPY, RUN mkdir/chown/useradd) are laid
#      out under another empty directory standing for /, and ENTRYPOINT + CMD start there as its USER
#      (a non-root system user, created if missing), in its WORKDIR, with its ENV only;
#   3. /health is probed, the HEALTHCHECK command is run as written, then SIGTERM must stop the
#      service cleanly (exit 0).
# Like `docker run -e`, the production secrets get test values, the database is a SQLite file in the
# image's data directory, and HOST/PORT move to a free loopback port (no network namespace here).
# Any step that fails exits non-zero saying which.
#
# Usage: scripts/deploy-dockerfile.sh [path/to/Dockerfile]   (run as root to switch users)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
dockerfile="${1:-$repo/Dockerfile}"
context="$(dirname "$(realpath "$dockerfile")")"
target_dir="$repo/target/docker-emulation"
started=$SECONDS

fail() {
  echo "deploy-dockerfile: FAIL: $*" >&2
  exit 1
}
step() { echo "--- deploy-dockerfile: $* ($((SECONDS - started)) s)"; }

[[ -f $dockerfile ]] || fail "no Dockerfile at $dockerfile"
for tool in cargo curl python3 realpath setpriv; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/payrail-docker.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# Parsing: one logical instruction per line ("stage<TAB>INSTRUCTION<TAB>arguments"), continuation
# lines joined, comments and blank lines dropped.
# ---------------------------------------------------------------------------------------------
instructions="$work/instructions"
awk '
  BEGIN { stage = -1 }
  /^[[:space:]]*#/ { next }
  {
    text = $0
    if (text ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, " ", text); line = line text; next }
    line = line text
    gsub(/^[[:space:]]+|[[:space:]]+$/, "", line)
    if (line == "") next
    split(line, words, /[[:space:]]+/)
    instruction = toupper(words[1])
    arguments = substr(line, length(words[1]) + 1)
    gsub(/^[[:space:]]+/, "", arguments)
    gsub(/[[:space:]]+/, " ", arguments)
    if (instruction == "FROM") stage++
    print stage "\t" instruction "\t" arguments
    line = ""
  }
' "$dockerfile" >"$instructions"

# The arguments of every `instruction` in `stage`, one per line.
each() { awk -F'\t' -v s="$1" -v i="$2" '$1 == s && $2 == i { print $3 }' "$instructions"; }
# The last one (WORKDIR, USER, CMD, ENTRYPOINT: the last wins).
last() { each "$1" "$2" | tail -n1; }

runtime_stage="$(awk -F'\t' '$2 == "FROM" { s = $1 } END { print s }' "$instructions")"
[[ -n $runtime_stage && $runtime_stage -ge 1 ]] || fail "expected a multi-stage Dockerfile (a build stage and a runtime stage)"
from_line="$(each "$runtime_stage" COPY | grep -m1 -- '--from=' || true)"
[[ -n $from_line ]] || fail "the runtime stage copies nothing from a build stage (no COPY --from=)"
build_name="$(sed -E 's/.*--from=([^ ]+).*/\1/' <<<"$from_line")"
build_stage="$(awk -F'\t' -v n="$build_name" '$2 == "FROM" && tolower($3) ~ (" as " tolower(n) "$") { print $1 }' "$instructions")"
[[ -n $build_stage ]] || build_stage="$build_name" # COPY --from=0
grep -q "^$build_stage	FROM" "$instructions" || fail "COPY --from=$build_name names no stage"
build_workdir="$(last "$build_stage" WORKDIR)"
[[ $build_workdir == /* ]] || fail "the build stage needs an absolute WORKDIR (found '${build_workdir}')"

# A JSON array (exec form) or a plain string (shell form) as one argument per line.
argv_of() {
  python3 -c '
import json, sys
text = sys.argv[1]
words = json.loads(text) if text.startswith("[") else ["/bin/sh", "-c", text]
print("\n".join(words))
' "$1"
}

# ---------------------------------------------------------------------------------------------
# The build context: .dockerignore applied the way Docker does (patterns from the context root; a
# path is left out when it or one of its parent directories matches; `*` stops at `/`).
# ---------------------------------------------------------------------------------------------
ignore_patterns=()
if [[ -f $context/.dockerignore ]]; then
  while IFS= read -r pattern; do
    pattern="${pattern#/}"
    [[ -z $pattern || $pattern == \#* ]] && continue
    [[ $pattern == !* ]] && fail ".dockerignore exceptions (!$pattern) are not emulated"
    ignore_patterns+=("${pattern%/}")
  done <"$context/.dockerignore"
fi

ignored() {
  local path="$1" pattern prefix
  for pattern in "${ignore_patterns[@]}"; do
    prefix="$path"
    while [[ -n $prefix ]]; do
      # Same number of path segments: bash's `*` would otherwise cross `/`. The pattern is a glob.
      # shellcheck disable=SC2053
      if [[ ${prefix//[^\/]/} == "${pattern//[^\/]/}" ]] && [[ $prefix == $pattern ]]; then return 0; fi
      [[ $prefix == */* ]] && prefix="${prefix%/*}" || prefix=""
    done
  done
  return 1
}

# copy_from_context SOURCES... DEST (DEST inside `root`, relative to `workdir`): COPY's rules — a
# directory's contents go into DEST, a file goes to DEST (or into it when DEST ends with `/` or
# several sources are given).
copy_from_context() {
  local root="$1" workdir="$2"
  shift 2
  local sources=("${@:1:$#-1}") dest="${*: -1}" source file relative into
  [[ $dest == /* ]] || dest="$workdir/$dest"
  into=0
  [[ $dest == */ || ${#sources[@]} -gt 1 ]] && into=1
  for source in "${sources[@]}"; do
    [[ -e $context/$source ]] || fail "COPY $source: not in the build context"
    ignored "$source" && fail "COPY $source: excluded by .dockerignore"
    if [[ -d $context/$source ]]; then
      while IFS= read -r -d '' file; do
        relative="${file#"$context/"}"
        ignored "$relative" && continue
        mkdir -p "$(dirname "$root$dest/${relative#"$source"/}")"
        cp -a "$file" "$root$dest/${relative#"$source"/}"
      done < <(find "$context/$source" \( -type f -o -type l \) -print0)
    elif ((into)); then
      mkdir -p "$root$dest"
      cp -a "$context/$source" "$root$dest/"
    else
      mkdir -p "$(dirname "$root$dest")"
      cp -a "$context/$source" "$root$dest"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# 1. The build stage.
# ---------------------------------------------------------------------------------------------
step "build stage ($build_name): COPY into an empty directory"
build_root="$target_dir/context"
rm -rf "$build_root"
mkdir -p "$build_root$build_workdir"
while IFS= read -r arguments; do
  [[ $arguments == --* ]] && fail "build stage: COPY flags are not emulated: COPY $arguments"
  read -r -a words <<<"$arguments"
  copy_from_context "$build_root" "$build_workdir" "${words[@]}"
done < <(each "$build_stage" COPY)
[[ -z $(each "$build_stage" ADD) ]] || fail "build stage: ADD is not emulated"

build_command="$(each "$build_stage" RUN)"
[[ $(wc -l <<<"$build_command") -eq 1 && $build_command == cargo\ * ]] ||
  fail "build stage: expected exactly one RUN, a cargo command (found: ${build_command:-none})"
[[ $build_command == *--locked* ]] || fail "build stage: '$build_command' must use --locked"
step "build stage: $build_command (offline, CARGO_TARGET_DIR=${target_dir#"$repo/"})"
(
  cd "$build_root$build_workdir"
  export CARGO_TARGET_DIR="$target_dir" CARGO_NET_OFFLINE=true
  read -r -a argv <<<"$build_command"
  "${argv[@]}"
) || fail "build stage: '$build_command' failed in a directory holding only the stage's COPYs"

# ---------------------------------------------------------------------------------------------
# 2. The runtime stage's filesystem: `/` is $root.
# ---------------------------------------------------------------------------------------------
step "runtime stage: lay out only its files"
root="$work/root"
mkdir -p "$root"
chmod 755 "$work" "$root"
user="$(last "$runtime_stage" USER)"
[[ -n $user && $user != root && $user != 0 ]] || fail "runtime stage: USER must name a non-root user (found '${user:-none}')"
user="${user%%:*}"
workdir="/"

ensure_user() {
  local name="$1" uid="$2"
  id -u "$name" >/dev/null 2>&1 && return 0
  [[ $EUID -eq 0 ]] || fail "user $name does not exist and only root can create it"
  local uid_flag=()
  [[ -n $uid ]] && ! getent passwd "$uid" >/dev/null && uid_flag=(--uid "$uid")
  useradd --system "${uid_flag[@]}" --no-create-home --shell /usr/sbin/nologin "$name" ||
    fail "could not create the system user $name"
  echo "created system user $name ($(id -u "$name"))"
}

# Where a path of the image (absolute, or relative to the current WORKDIR) lies on this machine.
in_image() {
  if [[ $1 == /* ]]; then echo "$root$1"; else echo "$root$workdir/$1"; fi
}

# The runtime stage's RUN lines, command by command: packages come from the host; users, directories
# and ownership are reproduced; anything else is refused rather than silently skipped.
emulate_run() {
  local command words i uid
  while IFS= read -r command; do
    command="$(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' <<<"$command")"
    read -r -a words <<<"$command"
    case "${words[0]}" in
      apt-get | rm) echo "  skipped (host packages stand in): $command" ;;
      useradd)
        uid=""
        for ((i = 1; i < ${#words[@]}; i++)); do [[ ${words[i]} == --uid || ${words[i]} == -u ]] && uid="${words[i + 1]}"; done
        ensure_user "${words[-1]}" "$uid"
        ;;
      mkdir)
        for ((i = 1; i < ${#words[@]}; i++)); do
          [[ ${words[i]} == -* ]] || mkdir -p "$(in_image "${words[i]}")"
        done
        ;;
      chown)
        for ((i = 2; i < ${#words[@]}; i++)); do
          chown "${words[1]}" "$(in_image "${words[i]}")"
        done
        ;;
      *) fail "runtime stage: cannot emulate RUN command '$command'" ;;
    esac
  done <<<"${1//&&/$'\n'}"
}

# Walk the runtime stage in order, as Docker does.
while IFS=$'\t' read -r _ instruction arguments; do
  case "$instruction" in
    WORKDIR)
      workdir="$arguments"
      mkdir -p "$root$workdir"
      ;;
    RUN) emulate_run "$arguments" ;;
    COPY)
      read -r -a words <<<"$arguments"
      if [[ ${words[0]} == --from=* ]]; then
        [[ ${#words[@]} -eq 3 ]] || fail "COPY --from: one source and one destination expected: $arguments"
        source="${words[1]}" dest="${words[2]}"
        # The build stage's WORKDIR is the empty build directory; its target/ is CARGO_TARGET_DIR.
        case "$source" in
          "$build_workdir"/target/*) source="$target_dir/${source#"$build_workdir"/target/}" ;;
          /*) source="$build_root$source" ;;
          *) fail "COPY --from: source must be absolute: $arguments" ;;
        esac
        [[ -e $source ]] || fail "COPY --from=$build_name ${words[1]}: the build stage did not produce it"
        [[ $dest == /* ]] || dest="$workdir/$dest"
        mkdir -p "$(dirname "$root$dest")"
        cp -a "$source" "$root$dest"
      else
        [[ ${words[0]} == --* ]] && fail "runtime stage: COPY flags are not emulated: COPY $arguments"
        copy_from_context "$root" "$workdir" "${words[@]}"
      fi
      ;;
    FROM | USER | ENV | EXPOSE | HEALTHCHECK | ENTRYPOINT | CMD | LABEL) ;;
    *) fail "runtime stage: $instruction is not emulated" ;;
  esac
done < <(awk -F'\t' -v s="$runtime_stage" '$1 == s' "$instructions")
ensure_user "$user" ""

# ENV: KEY=VALUE pairs (the legacy `ENV KEY VALUE` form too); values here are unquoted words.
stage_env=()
while IFS= read -r arguments; do
  if [[ $arguments != *=* ]]; then
    stage_env+=("${arguments%% *}=${arguments#* }")
  else
    read -r -a words <<<"$arguments"
    stage_env+=("${words[@]}")
  fi
done < <(each "$runtime_stage" ENV)
env_value() {
  local pair value=""
  for pair in "${stage_env[@]}"; do [[ ${pair%%=*} == "$1" ]] && value="${pair#*=}"; done
  echo "${value:-}"
}
exposed="$(last "$runtime_stage" EXPOSE)"
exposed="${exposed%%/*}"
[[ -n $exposed ]] || fail "runtime stage: no EXPOSE"
[[ $(env_value PORT) == "$exposed" ]] || fail "runtime stage: EXPOSE $exposed but ENV PORT=$(env_value PORT)"

mapfile -t entrypoint < <(argv_of "$(last "$runtime_stage" ENTRYPOINT)")
mapfile -t cmd < <(argv_of "$(last "$runtime_stage" CMD)")
argv=("${entrypoint[@]}" "${cmd[@]}")
[[ ${#argv[@]} -gt 0 && -n ${argv[0]} ]] || fail "runtime stage: no ENTRYPOINT or CMD"
[[ ${argv[0]} == /* ]] || fail "runtime stage: the ENTRYPOINT should be an absolute path (found ${argv[0]})"
[[ -x $root${argv[0]} ]] || fail "runtime stage: ${argv[0]} is not in the image (nothing copied it there)"
executable="$root${argv[0]}"

# ---------------------------------------------------------------------------------------------
# 3. Start it as the runtime stage would, probe /health, stop it.
# ---------------------------------------------------------------------------------------------
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
home="$(getent passwd "$user" | cut -d: -f6)"
# What `docker run -e ...` would add: production secrets (test values), a SQLite file in the data
# directory, and a loopback port.
run_env=(
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "HOME=${home:-/}"
  "${stage_env[@]}"
  "JWT_SECRET=docker-emulation-jwt-secret-0123456789abcdef"
  "CARD_FINGERPRINT_KEY=docker-emulation-fingerprint-key-0123456789"
  "ENCRYPTION_KEY=$(printf '%064x' 17)"
  "DATABASE_URL=sqlite://data/payrail.db"
  "HOST=127.0.0.1"
  "PORT=$port"
)
switch_user=()
if [[ $EUID -eq 0 ]]; then
  switch_user=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
elif [[ $(id -un) != "$user" ]]; then
  echo "not root: running as $(id -un) instead of $user"
fi
log="$work/server.log"
step "runtime stage: ${argv[*]} as $user in $workdir, port $port"
(cd "$root$workdir" && exec env -i "${run_env[@]}" "${switch_user[@]}" "$executable" "${argv[@]:1}") >"$log" 2>&1 &
server_pid=$!

show_log() { echo "--- server log (last 40 lines)" >&2; tail -n 40 "$log" >&2; }
healthy=0
for _ in $(seq 1 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then show_log; fail "the service exited before answering /health"; fi
  if curl -fsS --max-time 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then healthy=1 && break; fi
  sleep 0.2
done
((healthy)) || { show_log; fail "/health did not answer 200 within 30 s"; }
echo "GET /health: $(curl -fsS "http://127.0.0.1:$port/health")"
running_as="$(ps -o user= -p "$server_pid" | tr -d ' ')"
[[ $EUID -ne 0 || $running_as == "$user" ]] || fail "the service runs as $running_as, not $user"

healthcheck="$(last "$runtime_stage" HEALTHCHECK)"
if [[ -n $healthcheck ]]; then
  mapfile -t probe < <(argv_of "${healthcheck#*CMD }")
  (cd "$root$workdir" && env -i "${run_env[@]}" "${switch_user[@]}" timeout 3 "${probe[@]}") ||
    fail "the HEALTHCHECK command failed against the running service: ${probe[*]}"
  echo "HEALTHCHECK: passes"
fi

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[[ $status -eq 0 ]] || { show_log; fail "the service exited $status after SIGTERM (expected a clean 0)"; }
step "OK: the Dockerfile builds and its image serves /health as $user"
