"""Running it for a team on one machine: PostgreSQL, a Chroma server, app replicas and HAProxy."""
