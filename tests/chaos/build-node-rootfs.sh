#!/usr/bin/env bash
# Builds the root filesystem of the chaos harness's node image (the image is FROM scratch; nothing is pulled):
# a jlink'ed JRE, the shared libraries it, RocksDB's JNI library and libfaketime need, and the server jars.
# Usage: build-node-rootfs.sh REPO_ROOT OUT.tar   (JAVA_HOME: a JDK 17 with jlink)
set -euo pipefail
REPO=$1
OUT=$2
JDK=${JAVA_HOME:?JAVA_HOME must point at a JDK}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs
MODULES=java.base,java.logging,java.management,jdk.httpserver,jdk.unsupported,java.naming,jdk.naming.dns,java.net.http,jdk.crypto.ec,java.security.jgss,java.sql,java.xml,jdk.management,jdk.jfr,java.instrument,jdk.zipfs
"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files --compress=2 \
  --output "$R/opt/jre"
mkdir -p "$R/opt/hasp/lib" "$R/tmp" "$R/etc" "$R/data" "$R/clock" "$WORK/so"
chmod 1777 "$R/tmp"
cp "$REPO/server/target/hasp-server.jar" "$REPO"/server/target/lib/*.jar "$R/opt/hasp/lib/"
# RocksDB's JNI library lives inside its jar; take it out only to see what it links against.
(cd "$WORK/so" && "$JDK/bin/jar" xf "$(ls "$R"/opt/hasp/lib/rocksdbjni-*.jar | head -n 1)" librocksdbjni-linux64.so)
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
echo 'root:x:0:0:root:/root:/sbin/nologin' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
echo 'hosts: files dns' > "$R/etc/nsswitch.conf"
echo '127.0.0.1 localhost' > "$R/etc/hosts"
tar -C "$R" -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
