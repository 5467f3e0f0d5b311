DROP TABLE IF EXISTS send_instances;
