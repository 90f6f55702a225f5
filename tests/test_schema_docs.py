"""Every element of the public schema is described for client developers: each type, field,
argument, enum value and input field (introspection types and the built-in scalars aside)."""

from __future__ import annotations

import graphql
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    specified_scalar_types,
)

from schema.root import build_schema


def _described(description: str | None) -> bool:
    return bool(description and description.strip())


def undocumented(schema: GraphQLSchema) -> list[str]:
    """The coordinates (`Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`) of every
    element without a description."""
    missing: list[str] = []
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        if not _described(named.description):
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not _described(field.description):
                    missing.append(f"{name}.{field_name}")
                missing.extend(
                    f"{name}.{field_name}({arg_name}:)"
                    for arg_name, arg in field.args.items()
                    if not _described(arg.description)
                )
        elif isinstance(named, GraphQLInputObjectType):
            missing.extend(
                f"{name}.{field_name}"
                for field_name, field in named.fields.items()
                if not _described(field.description)
            )
        elif isinstance(named, GraphQLEnumType):
            missing.extend(
                f"{name}.{value_name}"
                for value_name, value in named.values.items()
                if not _described(value.description)
            )
    return missing


def test_every_element_of_the_schema_is_described():
    missing = undocumented(build_schema()._schema)
    assert missing == [], f"{len(missing)} schema elements lack a description:\n" + "\n".join(
        missing
    )


def test_the_walk_lists_each_undescribed_element():
    sdl = """
        "described" type Query { "described" f(a: Int, "described" b: In): E }
        input In { x: Int }
        "described" enum E { "described" ON OFF }
    """
    assert undocumented(graphql.build_schema(sdl)) == ["E.OFF", "In", "In.x", "Query.f(a:)"]
