.PHONY: serve test schema

serve:  ## run the service on the embedded defaults
	scripts/serve

test:  ## lint, type-check and run the tests (on PostgreSQL too when DATABASE_URL is set)
	scripts/test

schema:  ## rewrite schema/schema.graphql from the code
	scripts/bootstrap && .venv/bin/credits export-schema
