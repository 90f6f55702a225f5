from cli import SCHEMA_FILE, sdl


def test_committed_schema_matches_the_code():
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == sdl(), "schema/schema.graphql is stale: run `credits export-schema`"
