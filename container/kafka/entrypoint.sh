#!/bin/bash
# Start one KRaft node from the environment, the way the official apache/kafka image reads it:
#
# - each of the official image's defaults applies to a variable left unset (a single node, broker and
#   controller, PLAINTEXT on localhost:29092 and PLAINTEXT_HOST on :9092, replication 1, CLUSTER_ID fixed);
# - every KAFKA_<NAME> variable is the property <name>, lower-cased, with "___" -> "-", "__" -> "_" and
#   "_" -> "." (KAFKA_LISTENER_SECURITY_PROTOCOL_MAP -> listener.security.protocol.map), except the JVM's
#   own variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...);
# - CLUSTER_ID formats the storage (once: --ignore-formatted).
#
# Then the broker runs in the foreground as the container's process, logging to stdout
# ("Kafka Server started" once it serves requests, the line testcontainers waits for).
set -euo pipefail

config_dir=/opt/kafka/config
properties=$config_dir/server.properties
libs="/opt/kafka/libs/*"

while IFS='=' read -r var value; do
  [ -n "${!var:-}" ] || export "$var=$value"
done <<'DEFAULTS'
CLUSTER_ID=5L6g3nShT-eMCtK--X86sw
KAFKA_NODE_ID=1
KAFKA_PROCESS_ROLES=broker,controller
KAFKA_CONTROLLER_QUORUM_VOTERS=1@localhost:29093
KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT
KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:29092,PLAINTEXT_HOST://localhost:9092
KAFKA_LISTENERS=PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,PLAINTEXT_HOST://0.0.0.0:9092
KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER
KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT
KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1
KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1
KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1
KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0
KAFKA_LOG_DIRS=/tmp/kraft-combined-logs
DEFAULTS

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
  while IFS='=' read -r var value; do
    [[ $var == KAFKA_* ]] || continue
    [[ $not_a_property == *" $var "* ]] && continue
    printf '%s=%s\n' "$(property_name "$var")" "$value"
  done < <(env | sort)
} > "$properties"

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
