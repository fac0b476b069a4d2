#!/usr/bin/env bash
# Builds the root filesystem of the Hasp image (the image is FROM scratch; nothing is pulled from anywhere):
# a jlink'ed JRE, the shared libraries it, RocksDB's JNI library and libfaketime need, and the server jars.
# deploy/image/build-image.sh turns it into an image; the chaos harness runs its nodes on that same image.
# Usage: build-rootfs.sh REPO_ROOT OUT.tar   (JAVA_HOME: a JDK 17 with jlink; the server jars must be built)
#
# Layout: /opt/jre (the JRE), /opt/hasp/lib (hasp-server.jar and its dependencies), /data (the node's data, owned
# by the user hasp, uid/gid 10001, so a named volume created from it is writable without root), /etc/hasp (where
# a properties file may be mounted), /tmp (1777: RocksDB unpacks its JNI library there), /clock (the chaos
# harness's libfaketime control files). libfaketime is included when the building machine has it (Debian
# package faketime): it does nothing unless LD_PRELOAD names it, which only the chaos harness does.
set -euo pipefail
REPO=$1
OUT=$2
JDK=${JAVA_HOME:?JAVA_HOME must point at a JDK}
[ -x "$JDK/bin/jlink" ] || { echo "build-rootfs: $JDK/bin/jlink not found; JAVA_HOME must be a JDK 17" >&2; exit 2; }
[ -f "$REPO/server/target/hasp-server.jar" ] || { echo "build-rootfs: build the server first (mvn -DskipTests package -pl server -am)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs
MODULES=java.base,java.logging,java.management,jdk.httpserver,jdk.unsupported,java.naming,jdk.naming.dns,java.net.http,jdk.crypto.ec,java.security.jgss,java.sql,java.xml,jdk.management,jdk.jfr,java.instrument,jdk.zipfs
# --generate-cds-archive: the JDK classes pre-parsed, so the JVM (and every health-check probe) starts faster.
"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files --compress=2 --generate-cds-archive \
  --output "$R/opt/jre"
mkdir -p "$R/opt/hasp/lib" "$R/tmp" "$R/etc/hasp" "$R/data" "$R/clock" "$WORK/so"
chmod 1777 "$R/tmp"
cp "$REPO/server/target/hasp-server.jar" "$REPO"/server/target/lib/*.jar "$R/opt/hasp/lib/"
# RocksDB's jar carries its JNI library for every platform (about 190 MB unpacked); the image keeps only this
# machine's (the image runs where it was built), when zip is there to drop the others.
ROCKSDB_JAR=$(ls "$R"/opt/hasp/lib/rocksdbjni-*.jar | head -n 1)
case "$(uname -m)" in
  x86_64) NATIVE=librocksdbjni-linux64.so ;;
  aarch64) NATIVE=librocksdbjni-linux-aarch64.so ;;
  *) NATIVE="" ;;
esac
if [ -n "$NATIVE" ] && command -v zip >/dev/null && command -v unzip >/dev/null; then
  unzip -Z1 "$ROCKSDB_JAR" | grep -E '^librocksdbjni-' | grep -vx "$NATIVE" > "$WORK/drop" || true
  if [ -s "$WORK/drop" ]; then
    zip -q -d "$ROCKSDB_JAR" $(cat "$WORK/drop") >/dev/null
  fi
fi
# Take the JNI library out only to see what it links against.
(cd "$WORK/so" && "$JDK/bin/jar" xf "$ROCKSDB_JAR" ${NATIVE:-librocksdbjni-linux64.so})
FAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
EXTRA=""
if [ -f "$FAKETIME" ]; then
  mkdir -p "$R$(dirname "$FAKETIME")"
  cp -L "$FAKETIME" "$R$FAKETIME"
  EXTRA=$FAKETIME
fi
{ find "$R/opt/jre" -name '*.so'; echo "$R/opt/jre/bin/java"; ls "$WORK"/so/*.so; echo "$EXTRA"; } \
  | grep . > "$WORK/binaries"
# ldd exits non-zero for the odd file it cannot read; what it prints is what matters.
xargs ldd < "$WORK/binaries" 2>/dev/null > "$WORK/ldd.txt" || true
awk '$3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' "$WORK/ldd.txt" | { grep -v "^$R" || true; } | sort -u > "$WORK/libs"
while read -r lib; do mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; done < "$WORK/libs"
printf 'root:x:0:0:root:/root:/sbin/nologin\nhasp:x:10001:10001:hasp:/data:/sbin/nologin\n' > "$R/etc/passwd"
printf 'root:x:0:\nhasp:x:10001:\n' > "$R/etc/group"
echo 'hosts: files dns' > "$R/etc/nsswitch.conf"
echo '127.0.0.1 localhost' > "$R/etc/hosts"
# Everything belongs to root but /data (the user hasp's), whoever runs this script.
tar -C "$R" --numeric-owner --owner=0 --group=0 --anchored --exclude=./data -cf "$OUT.tmp" .
tar -C "$R" --numeric-owner --owner=10001 --group=10001 -rf "$OUT.tmp" ./data
mv "$OUT.tmp" "$OUT"
