# One image; the role is the command: serve (default), worker, scheduler, migrate.
FROM python:3.11-slim

# The code runs from its tree (decision 24): `pip install .` brings the dependencies and
# the `credits` command, and PYTHONPATH finds the modules here.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/srv/credits
WORKDIR /srv/credits
RUN useradd --create-home --uid 10001 credits

COPY pyproject.toml constraints.txt ./
COPY *.py ./
COPY schema ./schema
COPY graph ./graph
COPY resolvers ./resolvers
COPY ledger ./ledger
COPY models ./models
COPY workers ./workers
COPY notifications ./notifications
COPY compiled ./compiled
COPY live ./live
RUN pip install --no-cache-dir -c constraints.txt . && chown -R credits /srv/credits

USER credits
EXPOSE 8000
ENTRYPOINT ["credits"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
