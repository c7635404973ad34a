"""Airflow's support: run paths of a DAG run, the day's status marks, the trading-day timetable.
The DAG files (dags/) and the timetable plugin (plugins/) are thin over this layer."""
