"""cairn-dev: Cairn's local stack without Docker (Kafka, a MongoDB wire-protocol server, S3, nginx,
the five services and the history-writer worker) run as plain processes on 127.0.0.1."""
