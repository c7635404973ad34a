"""The Flink jobs (PyFlink, Flink SQL; the Java functions are in src/) and their Kafka and Flink edge."""
