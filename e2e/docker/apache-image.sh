#!/usr/bin/env bash
# Builds `zke2e-apache:host`, an image that runs the host's Apache ZooKeeper (Debian's jars and
# JRE, bind-mounted read-only from /usr and /etc/java-17-openjdk at run time, see cluster.py), so
# the e2e tests can run against the reference: `ZK_E2E_TARGET=apache e2e/run-docker-tests.sh`.
# Nothing is pulled: the image itself holds only empty directories and symlinks.
set -euo pipefail
tag="${1:-zke2e-apache:host}"
java=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
jars=/usr/share/java
for f in "$java" "$jars/zookeeper.jar" /etc/java-17-openjdk; do
  [ -e "$f" ] || { echo "$f is missing: Apache ZooKeeper 3.8 and OpenJDK 17 must be installed" >&2; exit 1; }
done
cp=""
for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-handler netty-common netty-buffer \
  netty-transport netty-codec netty-resolver netty-transport-native-epoll \
  netty-transport-native-unix-common metrics-core commons-cli commons-io snappy-java; do
  cp="$cp${cp:+:}$jars/$j.jar"
done
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/etc/zookeeper" "$ctx/root/data" "$ctx/root/tmp" "$ctx/root/usr"
for l in bin lib lib64 sbin; do ln -s "usr/$l" "$ctx/root/$l"; done
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
EXPOSE 2181 2888 3888
ENTRYPOINT ["$java", "-Xmx256m", "-Dorg.slf4j.simpleLogger.showDateTime=true", \
  "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS", "-Dzookeeper.admin.enableServer=false", \
  "-cp", "$cp", "org.apache.zookeeper.server.quorum.QuorumPeerMain"]
CMD ["/etc/zookeeper/zoo.cfg"]
DOCKERFILE
docker build -q -t "$tag" "$ctx"
echo "built $tag"
