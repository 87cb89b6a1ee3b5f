# The image every Airflow service in docker-compose.yaml runs: the official Airflow 3 image
# with fieldbooks' pinned requirements (dbt, cosmos, Great Expectations, the QuickBooks client)
# and fieldbooks itself. Compose mounts dags/, plugins/, include/ and dbt_project/ over the
# copies baked in here, so code changes need no rebuild; requirements changes do.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.txt pyproject.toml README.md /opt/fieldbooks/
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /opt/fieldbooks/requirements.txt

COPY --chown=airflow:0 include /opt/fieldbooks/include
RUN pip install --no-cache-dir --no-deps /opt/fieldbooks

COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 dbt_project /opt/airflow/dbt_project
COPY --chown=airflow:0 include /opt/airflow/include
ENV PYTHONPATH=/opt/airflow/include
