#!/bin/sh
# jms.sh: compile (once) and run the notes' Java producer/consumer (docs/java) against mqsim.
#
#   docs/examples/jms.sh JmsProduce  [URL]   # sends msg---1..3 to queue-cluster
#   docs/examples/jms.sh JmsConsumer [URL]   # receives until the queue is quiet for 4 s
#
# URL defaults to the one in the .java files (the default cluster.toml's OpenWire ports),
# failover:(tcp://127.0.0.1:61616,tcp://127.0.0.1:61617,tcp://127.0.0.1:61618)?randomize=false.
# Needs a JDK and ActiveMQ's client jars (Debian: openjdk-17-jdk-headless libactivemq-java);
# docs/java/README.md explains the classpath. Classes go to target/jms (JMS_CLASSES=...).
set -e
if [ $# -lt 1 ]; then
    echo "usage: $0 JmsProduce|JmsConsumer [failover-url]" >&2
    exit 2
fi
src="$(dirname "$0")/../java"
j=/usr/share/java
cp="$j/activemq-client.jar:$j/geronimo-jms_1.1_spec.jar:$j/geronimo-j2ee-management-1.1-spec.jar:$j/hawtbuf.jar"
cp="$cp:$j/slf4j-api.jar:$j/slf4j-simple.jar"
out="${JMS_CLASSES:-target/jms}"
if [ ! -f "$out/$1.class" ] || [ "$src/$1.java" -nt "$out/$1.class" ]; then
    mkdir -p "$out"
    javac -d "$out" -cp "$cp" "$src/JmsProduce.java" "$src/JmsConsumer.java"
fi
exec java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$out:$cp" "$@"
