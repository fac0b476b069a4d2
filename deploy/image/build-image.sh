#!/usr/bin/env bash
# Builds the Hasp image with no registry and no Dockerfile base: the root filesystem from build-rootfs.sh,
# `docker import`ed as hasp:VERSION (VERSION = the Maven project version) and tagged hasp:latest, into the engine
# at DOCKER_HOST (or the docker CLI's default). `./hasp image` runs this after building the server; the chaos
# harness (tests/.../chaos/cluster/NodeImage.java) runs it too, so its nodes run the product image.
#
# Usage: deploy/image/build-image.sh [--rebuild]
#   JAVA_HOME  a JDK 17 (for jlink); default: the JDK of javac on PATH
# The root filesystem is kept in server/target/image/rootfs.tar and built again only when the server jars or
# these scripts are newer (--rebuild: always). The import is skipped when the engine already has hasp:VERSION made
# from the same root filesystem (label io.hasp.rootfs = its checksum). The last line printed is the image.
#
# The import is followed by a startup training in a container of the new image (~20 s): it writes a class-data-
# sharing archive, /opt/hasp/hasp.jsa, and the image is committed again with it (a failed training leaves the image
# without one, with a warning; its log is server/target/image/cds-training.log).
#
# The image: ENTRYPOINT runs io.hasp.server.cli.NodeCommand as the user hasp (10001) with
# --default-config /etc/hasp/hasp.properties (used when mounted); every key also comes from HASP_* variables;
# HASP_DATA_DIR=/data (a volume); arguments after the image name are NodeCommand flags. No HEALTHCHECK is built in
# (docker import cannot set one, and the chaos harness does not want one): compose and Kubernetes declare theirs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/image"
REBUILD=0
for a in "$@"; do
  case "$a" in
    --rebuild) REBUILD=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done
command -v docker >/dev/null || { echo "build-image: the docker CLI is needed (the Debian package that the chaos suite installs)" >&2; exit 2; }
ENGINE=$(docker version --format '{{.Server.Version}}' 2>/dev/null) || {
  echo "build-image: no Docker engine answers at ${DOCKER_HOST:-the default socket}; start one or set DOCKER_HOST" >&2
  exit 2
}
JAR="$ROOT/server/target/hasp-server.jar"
[ -f "$JAR" ] || { echo "build-image: $JAR is missing; build the server first (./hasp image does)" >&2; exit 2; }
if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/jlink" ]; then
  JAVAC=$(command -v javac || true)
  [ -n "$JAVAC" ] || { echo "build-image: no JDK found (set JAVA_HOME to a JDK 17)" >&2; exit 2; }
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$JAVAC")")")
fi
export JAVA_HOME
# The project version: the <version> right after the parent POM's own artifactId.
VERSION=$(awk '/<artifactId>hasp-parent<\/artifactId>/ {found = 1; next}
  found && /<version>/ {sub(/.*<version>/, ""); sub(/<\/version>.*/, ""); print; exit}' "$ROOT/pom.xml")
[[ "$VERSION" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || { echo "build-image: cannot read the version from pom.xml" >&2; exit 2; }
IMAGE="hasp:$VERSION"

CACHE="$ROOT/server/target/image"
TAR="$CACHE/rootfs.tar"
mkdir -p "$CACHE"
if [ $REBUILD -eq 1 ] || [ ! -f "$TAR" ] || [ -n "$(find "$JAR" "$ROOT/server/target/lib" "$HERE/build-rootfs.sh" \
    "$HERE/build-image.sh" -newer "$TAR" -print -quit)" ]; then
  start=$SECONDS
  bash "$HERE/build-rootfs.sh" "$ROOT" "$TAR"
  echo "built the root filesystem $TAR ($(( $(stat -c %s "$TAR") >> 20 )) MB) in $((SECONDS - start)) s"
fi
# The node's JVM: C1 only, the serial collector, half the container's memory (the archive's training runs with the
# same flags). entrypoint prints the ENTRYPOINT's JSON, with $1 as one more option (the archive) when given.
JVM_FLAGS=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:MaxRAMPercentage=50)
entrypoint() {
  local json='["/opt/jre/bin/java"' a
  for a in "${JVM_FLAGS[@]}" ${1:+"$1"} -cp '/opt/hasp/lib/*' io.hasp.server.cli.NodeCommand --default-config \
      /etc/hasp/hasp.properties; do
    json="$json, \"$a\""
  done
  echo "$json]"
}
SUM=$(sha256sum "$TAR" | cut -c1-64)
HAVE=$(docker image inspect --format '{{ index .Config.Labels "io.hasp.rootfs" }}' "$IMAGE" 2>/dev/null || true)
if [ "$HAVE" = "$SUM" ]; then
  echo "the engine has $IMAGE from this root filesystem already"
else
  OLD=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  docker import \
    --change "ENTRYPOINT $(entrypoint "")" \
    --change 'ENV HASP_DATA_DIR=/data' \
    --change 'ENV PATH=/opt/jre/bin' \
    --change 'USER 10001:10001' \
    --change 'WORKDIR /data' \
    --change 'VOLUME /data' \
    --change 'EXPOSE 7000 7100 7200' \
    --change "LABEL io.hasp.rootfs=$SUM" \
    --change "LABEL org.opencontainers.image.title=hasp" \
    --change "LABEL org.opencontainers.image.version=$VERSION" \
    --message "hasp $VERSION" \
    "$TAR" "$IMAGE" >/dev/null
  echo "imported $IMAGE into the engine at ${DOCKER_HOST:-the default socket} (Docker $ENGINE)"
  # A class-data-sharing archive of the classes a node loads (as ./hasp's nodes have, see server/pom.xml): the
  # startup training runs in a container of the new image, so that the archive records the image's own paths, and
  # the image is committed again with the archive and the entry point that maps it (a node serves ~1 s sooner
  # after a start). /tmp is a tmpfs there, so the training's data stays out of the image. A failed training leaves
  # the image without an archive (a warning); the node then starts as it did before.
  TRAIN="hasp-cds-training-$$"
  trap 'docker rm -f "$TRAIN" >/dev/null 2>&1 || true' EXIT  # the training container, however this script ends
  start=$SECONDS
  if docker run --name "$TRAIN" --user 0:0 --network none --tmpfs /tmp:rw,exec,mode=1777 --entrypoint /opt/jre/bin/java \
      "$IMAGE" "${JVM_FLAGS[@]}" -XX:ArchiveClassesAtExit=/opt/hasp/hasp.jsa -Xlog:cds=off -Xlog:cds+dynamic=off \
      -cp '/opt/hasp/lib/*' io.hasp.server.cli.StartupTraining > "$CACHE/cds-training.log" 2>&1 \
      && docker cp "$TRAIN:/opt/hasp/hasp.jsa" - > /dev/null \
      && docker commit \
        --change "ENTRYPOINT $(entrypoint -XX:SharedArchiveFile=/opt/hasp/hasp.jsa)" \
        --change 'CMD []' --change 'USER 10001:10001' --change 'WORKDIR /data' \
        --message "hasp $VERSION with its class-data-sharing archive" "$TRAIN" "$IMAGE" >/dev/null; then
    echo "added the class-data-sharing archive /opt/hasp/hasp.jsa (training $((SECONDS - start)) s)"
  else
    echo "build-image: warning: no class-data-sharing archive (training failed, see $CACHE/cds-training.log);" \
      "the image works without it" >&2
  fi
fi
docker tag "$IMAGE" hasp:latest
echo "tagged hasp:latest"
# The image this one replaced, if nothing else names or runs it (no force: a container or tag keeps it).
if [ -n "${OLD:-}" ] && [ "$OLD" != "$(docker image inspect --format '{{.Id}}' "$IMAGE")" ]; then
  docker image rm "$OLD" >/dev/null 2>&1 && echo "removed the image it replaced (${OLD:7:12})" || true
fi
echo "$IMAGE"
