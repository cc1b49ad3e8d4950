"""The Kafka release the project runs by default, named once for the code (pom.xml names it for Maven).

4.4.0 is the newest release on Maven Central whose whole test suite and crash run pass here; 3.9.x (the
last 3.x line) is still tested (KAFKA_VERSION=3.9.1). A unit test keeps pom.xml, docker-compose.yml and
the README naming this same version.
"""

from __future__ import annotations

DEFAULT_KAFKA_VERSION = "4.4.0"
OLDEST_TESTED_KAFKA_VERSION = "3.9.1"
