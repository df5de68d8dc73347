#!/usr/bin/env bash
# Static checks of the images' Dockerfiles, for CI where the GPU image cannot be built (no CUDA base
# image here):
#  - every instruction parses (known keyword, continuation lines joined);
#  - the base image is a build argument: `ARG BASE=...` then `FROM ${BASE}`;
#  - every COPY/ADD source exists in the build context (the repository root) and is let through by
#    .dockerignore (its `!` lines), and the ENTRYPOINT is a file that a COPY put in the image;
#  - docker/Dockerfile and docker/Dockerfile.cpu are identical from the "shared" marker to the end;
#  - with BuildKit's `docker buildx` at hand, also `docker buildx build --check` (Dockerfile lint).
# COPY sources include target/tp4j-dist: build it first (./mvnw -Pdist -DskipTests package).
#
# Usage: docker/check-dockerfile.sh [DOCKERFILE...]   (default: docker/Dockerfile docker/Dockerfile.cpu)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(docker/Dockerfile docker/Dockerfile.cpu)
marker='# ---- shared by docker/Dockerfile and docker/Dockerfile.cpu'
shared() { awk -v m="$marker" 'index($0, m) == 1 { p = 1 } p' "$1"; }
errors=0
err() {
  echo "check-dockerfile: $*" >&2
  errors=$((errors + 1))
}

# The .dockerignore allow-list (lines "!path"); the file starts with "*".
allowed=()
if [ -f .dockerignore ]; then
  while IFS= read -r line; do
    case "$line" in '!'*) allowed+=("${line#!}") ;; esac
  done < .dockerignore
fi
let_through() { # let_through PATH: PATH or a parent of it is allowed (or there is no .dockerignore)
  [ -f .dockerignore ] || return 0
  local a
  for a in "${allowed[@]}"; do
    case "$1" in "$a" | "$a"/*) return 0 ;; esac
  done
  return 1
}

# Instructions of a Dockerfile, one per line: comments dropped, continuations joined.
instructions() {
  sed -e '/^[[:space:]]*#/d' "$1" | awk '
    { line = $0 }
    /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, "", line); acc = acc line " "; next }
    { acc = acc line; if (acc ~ /[^[:space:]]/) print acc; acc = "" }
    END { if (acc ~ /[^[:space:]]/) print acc }'
}

for f in "${files[@]}"; do
  if [ ! -f "$f" ]; then
    err "$f: no such file"
    continue
  fi
  n=0
  first=""
  from=""
  copied=()
  entry=""
  while IFS= read -r ins; do
    n=$((n + 1))
    kw="$(awk '{print toupper($1)}' <<< "$ins")"
    rest="$(sed -E 's/^[[:space:]]*[^[:space:]]+[[:space:]]*//' <<< "$ins")"
    case "$kw" in
      FROM | RUN | CMD | LABEL | EXPOSE | ENV | ADD | COPY | ENTRYPOINT | VOLUME | USER | WORKDIR | ARG | \
        ONBUILD | STOPSIGNAL | HEALTHCHECK | SHELL | MAINTAINER) ;;
      *) err "$f: unknown instruction '$kw' in: $ins" ;;
    esac
    [ -n "$first" ] || first="$ins"
    [ "$kw" = FROM ] && [ -z "$from" ] && from="$rest"
    if [ "$kw" = COPY ] || [ "$kw" = ADD ]; then
      read -r -a words <<< "$rest"
      srcs=()
      from_stage=""
      for w in "${words[@]}"; do
        case "$w" in --from=*) from_stage=1 ;; --*) ;; *) srcs+=("$w") ;; esac
      done
      if [ ${#srcs[@]} -lt 2 ]; then
        err "$f: $kw needs a source and a destination: $ins"
        continue
      fi
      dest="${srcs[-1]}"
      unset 'srcs[-1]'
      [ -n "$from_stage" ] && continue
      for s in "${srcs[@]}"; do
        s="${s#./}"
        if ! compgen -G "$s" > /dev/null; then
          err "$f: $kw source '$s' does not exist in the build context ($root)"
        elif ! let_through "$s"; then
          err "$f: $kw source '$s' is excluded by .dockerignore"
        fi
        if [ ${#srcs[@]} -eq 1 ] && [ -f "$s" ]; then
          copied+=("$dest")
        elif [ -d "$s" ]; then
          while IFS= read -r x; do copied+=("${dest%/}/${x#"$s"/}"); done < <(find "$s" -type f)
        fi
      done
    fi
    if [ "$kw" = ENTRYPOINT ]; then
      entry="$(sed -E 's/^\[[[:space:]]*"([^"]+)".*/\1/' <<< "$rest")"
    fi
  done < <(instructions "$f")

  [ "$n" -gt 0 ] || err "$f: no instructions"
  case "$first" in
    "ARG BASE="?*) ;;
    *) err "$f: the first instruction must be ARG BASE=<default image> (got: $first)" ;;
  esac
  [ "$from" = '${BASE}' ] || err "$f: FROM must be \${BASE} (got: $from)"
  if [ -n "$entry" ]; then
    found=""
    for c in "${copied[@]}"; do [ "$c" = "$entry" ] && found=1; done
    [ -n "$found" ] || err "$f: ENTRYPOINT $entry is not a file any COPY puts in the image"
  else
    err "$f: no ENTRYPOINT"
  fi
  grep -qF "$marker" "$f" || err "$f: no line starting with '$marker'"
  echo "check-dockerfile: $f: $n instructions, base $(sed -n 's/^ARG BASE=//p' "$f" | head -1)"
done

# The two images differ only above the marker.
if [ -f docker/Dockerfile ] && [ -f docker/Dockerfile.cpu ]; then
  if [ "$(shared docker/Dockerfile | wc -l)" -lt 2 ]; then
    err "docker/Dockerfile: nothing below the shared marker"
  elif ! diff -u <(shared docker/Dockerfile) <(shared docker/Dockerfile.cpu) >&2; then
    err "docker/Dockerfile and docker/Dockerfile.cpu differ below the shared marker (see the diff above)"
  fi
fi

if command -v docker > /dev/null && docker buildx version > /dev/null 2>&1; then
  for f in "${files[@]}"; do
    # BASE=scratch: the lint needs no registry (the default bases are not reachable everywhere).
    docker buildx build --check --build-arg BASE=scratch -f "$f" . || err "$f: docker buildx build --check failed"
  done
else
  echo "check-dockerfile: no docker buildx here: the BuildKit lint (docker buildx build --check) is skipped"
fi

if [ "$errors" -gt 0 ]; then
  echo "check-dockerfile: $errors problem(s)" >&2
  exit 1
fi
echo "check-dockerfile: ok"
