#!/usr/bin/env bash
# Shared by the benchmark scripts: one real ActiveMQ 5.17.2 broker from Debian's package,
# started the way shared/reference/anchor-baseline.md §2 does it (the exact command line of
# `/usr/bin/activemq console` on Java > 8, Debian's JVM flags, KahaDB with its default fsync
# per synchronous send, useJmx=false, schedulerSupport=false, a log4j 1.2 file log).
#
# start_activemq DIR OPENWIRE_PORT [STOMP_PORT]
#   sets AMQ_PID, AMQ_HOME, AMQ_BASE, AMQ_CONF, AMQ_DATA, AMQ_OPENWIRE, AMQ_STOMP.
# stop_amq
#   SIGTERM, up to 30 s, then SIGKILL, by AMQ_PID (a no-op when none runs).
AMQ_PID=""

stop_amq() {
  [ -n "$AMQ_PID" ] || return 0
  kill -TERM "$AMQ_PID" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$AMQ_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$AMQ_PID" 2>/dev/null || true
  wait "$AMQ_PID" 2>/dev/null || true
  AMQ_PID=""
}

start_activemq() {
  AMQ_HOME=/usr/share/activemq
  AMQ_BASE=$1
  AMQ_CONF=$AMQ_BASE/conf
  AMQ_DATA=$AMQ_BASE/data
  AMQ_OPENWIRE=$2
  AMQ_STOMP=${3:-}
  mkdir -p "$AMQ_CONF" "$AMQ_DATA"
  STOMP_CONNECTOR=""
  if [ -n "$AMQ_STOMP" ]; then
    STOMP_CONNECTOR="<transportConnector name=\"stomp\" uri=\"stomp://127.0.0.1:$AMQ_STOMP?maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600\"/>"
  fi
  cat >"$AMQ_CONF/activemq.xml" <<EOF
  <beans xmlns="http://www.springframework.org/schema/beans"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
    http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
    <broker xmlns="http://activemq.apache.org/schema/core" brokerName="bench" useJmx="false"
            schedulerSupport="false" dataDirectory="$AMQ_DATA">
      <persistenceAdapter>
        <kahaDB directory="$AMQ_DATA/kahadb"/>
      </persistenceAdapter>
      <transportConnectors>
        <transportConnector name="openwire" uri="tcp://127.0.0.1:$AMQ_OPENWIRE?maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"/>
  $STOMP_CONNECTOR
      </transportConnectors>
    </broker>
  </beans>
EOF
  # The runtime classpath has slf4j-log4j12 + log4j 1.2, so log4j2.properties would be ignored.
  cat >"$AMQ_CONF/log4j.properties" <<'EOF'
  log4j.rootLogger=INFO, logfile
  log4j.appender.logfile=org.apache.log4j.FileAppender
  log4j.appender.logfile.file=${activemq.data}/activemq.log
  log4j.appender.logfile.layout=org.apache.log4j.PatternLayout
  log4j.appender.logfile.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
EOF
  JAVA=/usr/lib/jvm/default-java/bin/java
  [ -x "$JAVA" ] || JAVA=java
  echo "==> ActiveMQ 5.17.2: one broker, openwire on $AMQ_OPENWIRE${AMQ_STOMP:+, stomp on $AMQ_STOMP} ($AMQ_BASE)"
  # What `/usr/bin/activemq console` runs on Java > 8, with /usr/share/activemq/activemq-options'
  # ACTIVEMQ_OPTS, minus the su/pid-file wrapper.
  "$JAVA" -Xms512M -Xmx512M -Dorg.apache.activemq.UseDedicatedTaskRunner=true \
    --add-reads=java.xml=java.logging \
    --add-opens java.base/java.security=ALL-UNNAMED \
    --add-opens java.base/java.net=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED \
    --add-opens java.naming/javax.naming.spi=ALL-UNNAMED \
    --add-opens java.rmi/sun.rmi.transport.tcp=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED \
    --add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED \
    --add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED \
    --add-exports=java.base/sun.net.www.protocol.jar=ALL-UNNAMED \
    --add-exports=jdk.xml.dom/org.w3c.dom.html=ALL-UNNAMED \
    --add-exports=jdk.naming.rmi/com.sun.jndi.url.rmi=ALL-UNNAMED \
    -Dactivemq.classpath="$AMQ_CONF:$AMQ_BASE/../lib/:" \
    -Dactivemq.home="$AMQ_HOME" \
    -Dactivemq.base="$AMQ_BASE" \
    -Dactivemq.conf="$AMQ_CONF" \
    -Dactivemq.data="$AMQ_DATA" \
    -jar "$AMQ_HOME/bin/activemq.jar" start "xbean:file:$AMQ_CONF/activemq.xml" \
    >"$AMQ_BASE/stdout.log" 2>&1 &
  AMQ_PID=$!
}
