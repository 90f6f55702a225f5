.PHONY: serve test schema portal portal-test

serve:  ## run the service on the embedded defaults
	scripts/serve

test:  ## lint, type-check and run the tests (on PostgreSQL too when DATABASE_URL is set)
	scripts/test

schema:  ## rewrite schema/schema.graphql from the code
	scripts/bootstrap && .venv/bin/credits export-schema

portal:  ## build the owner portal into static/portal/ (needs Node 20+ and npm); `credits serve` serves it at /portal
	cd portal && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run build

portal-test: portal  ## the portal's browser test (headless Chromium) against a live server on PostgreSQL
	scripts/bootstrap test && PORTAL_E2E=1 DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" .venv/bin/pytest tests/portal
