#!/bin/bash
# Start one KRaft node from the environment, the way the official apache/kafka image reads it:
#
# - every KAFKA_<NAME> variable is the property <name>, lower-cased, with "___" -> "-", "__" -> "_" and
#   "_" -> "." (KAFKA_LISTENER_SECURITY_PROTOCOL_MAP -> listener.security.protocol.map), except the JVM's
#   own variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...);
# - without any, a single node on localhost:9092 (broker) and :9093 (controller);
# - CLUSTER_ID formats the storage (once: --ignore-formatted), with a fixed default.
#
# Then the broker runs in the foreground as the container's process, logging to stdout
# ("Kafka Server started" once it serves requests, the line testcontainers waits for).
set -euo pipefail

config_dir=/opt/kafka/config
properties=$config_dir/server.properties
libs="/opt/kafka/libs/*"
: "${CLUSTER_ID:=5L6g3nShT-eMCtK--X86sw}"

not_a_property=" KAFKA_HOME KAFKA_VERSION KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS \
KAFKA_LOG4J_OPTS KAFKA_JMX_OPTS KAFKA_JMX_PORT KAFKA_JMX_HOSTNAME KAFKA_LOG4J_ROOT_LOGLEVEL KAFKA_LOG4J_LOGGERS \
KAFKA_TOOLS_LOG4J_LOGLEVEL "

property_name() {
  local name=${1#KAFKA_}
  name=${name,,}
  name=${name//___/-}
  name=${name//__/@}   # a placeholder for "_" while single underscores become dots
  name=${name//_/.}
  printf '%s' "${name//@/_}"
}

{
  echo "# written by entrypoint.sh from the KAFKA_* environment"
  found=0
  while IFS='=' read -r var value; do
    [[ $var == KAFKA_* ]] || continue
    [[ $not_a_property == *" $var "* ]] && continue
    printf '%s=%s\n' "$(property_name "$var")" "$value"
    found=1
  done < <(env)
  if [ "$found" = 0 ]; then
    cat <<'DEFAULTS'
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=PLAINTEXT://localhost:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
DEFAULTS
  fi
} > "$properties"
grep -q '^log\.dirs=' "$properties" || echo "log.dirs=/tmp/kraft-combined-logs" >> "$properties"

# Logging to stdout for both lines: Kafka 4.x logs through log4j2, 3.x through log4j 1 (reload4j).
cat > "$config_dir/log4j2.properties" <<'LOG4J2'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
LOG4J2
cat > "$config_dir/log4j.properties" <<'LOG4J'
log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
LOG4J
logging=(
  "-Dlog4j2.configurationFile=$config_dir/log4j2.properties"
  "-Dlog4j.configuration=file:$config_dir/log4j.properties"
)

# shellcheck disable=SC2086 # the JVM options are word lists, as in Kafka's own scripts
java "${logging[@]}" -cp "$libs" kafka.tools.StorageTool format --ignore-formatted \
  "--cluster-id=$CLUSTER_ID" -c "$properties"
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms256m} -XX:+UseG1GC -Djava.awt.headless=true ${KAFKA_OPTS:-} \
  "${logging[@]}" -cp "$libs" kafka.Kafka "$properties"
