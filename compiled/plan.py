"""Plans: a validated query document turned, once, into what answers it.

The fields to answer are collected by graphql-core's own `collect_fields` (fragments,
aliases, `@include`/`@skip` for the variables' values, `__typename`), so the shape of
the answer is the reference executor's. Each object level becomes a function, made
from Python source once per plan, that builds one object from one row; rows come from
the list rules in `ledger` (`history.lot_rows`, …), the same ones the reference
executor's resolvers call, and linked objects are loaded for a whole level at once.
A selection the plan cannot answer makes `compile_operation` return None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values

from compiled.shapes import (
    ISO,
    TYPES,
    Column,
    Computed,
    Embedded,
    Env,
    Fallback,
    GlobalId,
    Linked,
)
from graph.connections import encode_cursor
from graph.ids import to_global_id
from ledger.pages import Page
from ledger.reads import Row


class NotCovered(Exception):
    """The document asks for something the compiled path does not answer."""


def unwrap(type_: Any) -> Any:
    """The named type inside `T!`, `[T]`, `[T!]!`, …"""
    while hasattr(type_, "of_type"):
        type_ = type_.of_type
    return type_


def _named(type_: Any) -> tuple[Any, bool, bool]:
    """(the named type, non-null, list) of a field's type, for the shapes covered here:
    `T`, `T!`, `[T!]` and `[T!]!`."""
    non_null = isinstance(type_, GraphQLNonNull)
    inner: Any = type_.of_type if non_null else type_
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        if not isinstance(item, GraphQLNonNull):
            raise NotCovered("a list of nullable items")
        return item.of_type, non_null, True
    return inner, non_null, False


@dataclass
class ObjectPlan:
    """How to build objects of one type for one selection set, from rows."""

    type_name: str
    build: Callable[[Row, int, dict[str, list[Any]], Env], dict[str, Any]]
    links: list[tuple[str, Linked, ObjectPlan, bool]] = field(default_factory=list)
    embeds: bool = False  # reads an object joined into the row (`Embedded`)

    async def objects(self, rows: Sequence[Row], env: Env) -> list[dict[str, Any]]:
        """One object per row, linked objects loaded once for all of them."""
        linked: dict[str, list[Any]] = {}
        for key, link, plan, many in self.links:
            targets = await link.load(env, rows)
            flat = [t for found in targets if found is not None for t in _as_list(found)]
            built = iter(await plan.objects(flat, env))
            linked[key] = [
                None if found is None else [next(built) for _ in found] if many else next(built)
                for found in targets
            ]
        build = self.build
        return [build(row, index, linked, env) for index, row in enumerate(rows)]


def _as_list(found: Row | list[Row]) -> list[Row]:
    return found if isinstance(found, list) else [found]


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
        operation: OperationDefinitionNode,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.operation = operation

    def subfields(
        self, parent: GraphQLObjectType, details: list[FieldDetails]
    ) -> dict[str, list[FieldDetails]]:
        collected = collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, parent, details
        )
        return dict(collected.grouped_field_set)

    def object_plan(
        self, type_: GraphQLObjectType, fields: dict[str, list[FieldDetails]], prefix: str = ""
    ) -> ObjectPlan:
        """The plan for objects of `type_` with these fields; with a `prefix`, the
        object's columns are the row's `<prefix><column>` (joined into the parent's row)."""
        shapes = TYPES.get(type_.name)
        if shapes is None:
            raise NotCovered(type_.name)
        plan = ObjectPlan(type_.name, build=_never)
        code = _Source()
        for key, details in fields.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                code.item(key, code.constant(type_.name))
                continue
            if node.arguments:
                raise NotCovered(f"{type_.name}.{name} with arguments")
            shape = shapes.get(name)
            if shape is None:
                raise NotCovered(f"{type_.name}.{name}")
            target, non_null, many = _named(type_.fields[name].type)
            if isinstance(shape, Column):
                value = f"r[{prefix + shape.column!r}]"
                if shape.format == ISO:
                    value = f"{value}.isoformat()"
                elif shape.format is not None:
                    fmt = code.constant(shape.format)
                    value = f"{fmt}({value})"
                code.item(key, value)
            elif isinstance(shape, GlobalId):
                gid = code.constant(to_global_id)
                code.item(key, f"{gid}({shape.type!r}, r[{prefix + 'id'!r}])")
            elif isinstance(shape, Computed):
                if prefix:
                    raise NotCovered("a computed field of a joined row")
                code.item(key, f"{code.constant(shape.compute)}(r, env)")
            elif isinstance(shape, Embedded):
                if prefix:
                    raise NotCovered("an object joined into a joined row")
                sub = self.object_plan(target, self.subfields(target, details), shape.prefix)
                if sub.links:
                    raise NotCovered("links below a joined object")
                plan.embeds = True
                code.item(key, f"{code.constant(sub.build)}(r, i, L, env)")
            else:  # Linked
                if prefix:
                    raise NotCovered("a linked object of a joined row")
                sub = self.object_plan(target, self.subfields(target, details))
                plan.links.append((key, shape, sub, many))
                if non_null:
                    code.item(key, f"_present(L[{key!r}][i])")
                else:
                    code.item(key, f"L[{key!r}][i]")
        plan.build = code.function()
        return plan


def _never(row: Row, index: int, linked: dict[str, list[Any]], env: Env) -> dict[str, Any]:
    raise AssertionError("a plan used before it was built")


def _present(value: Any) -> Any:
    if value is None:
        raise Fallback("a non-null object is missing")
    return value


class _Source:
    """The source of one object-building function, and the values it refers to."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.names: dict[str, Any] = {"_present": _present}

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.names)}"
        self.names[name] = value
        return name

    def item(self, key: str, expression: str) -> None:
        self.items.append(f"{key!r}: {expression}")

    def function(self) -> Callable[[Row, int, dict[str, list[Any]], Env], dict[str, Any]]:
        source = "def build(r, i, L, env):\n    return {" + ", ".join(self.items) + "}\n"
        exec(compile(source, "<compiled plan>", "exec"), self.names)
        built: Callable[[Row, int, dict[str, list[Any]], Env], dict[str, Any]]
        built = self.names["build"]
        return built


# Root fields ------------------------------------------------------------------------

# A root field's source: (request, its arguments, whether the total is asked) → a row,
# a page of rows, or None.
Source = Callable[[Env, dict[str, Any], bool], Awaitable[Any]]


@dataclass(frozen=True)
class RootField:
    key: str
    field_def: GraphQLField | None  # None: `__typename`
    node: FieldNode
    source: Source
    answer: Callable[[Any, Env], Awaitable[Any]]
    counts: bool = False


@dataclass
class Plan:
    """Answers one operation of one document, for given `@include`/`@skip` values."""

    roots: list[RootField]
    counter: Any  # the operation's `credits_graphql_operations_total` series

    async def run(self, env: Env, variables: VariableValues) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for root in self.roots:
            arguments = (
                {}
                if root.field_def is None
                else get_argument_values(root.field_def, root.node, variables)
            )
            found = await root.source(env, arguments, root.counts)
            data[root.key] = await root.answer(found, env)
        return data


def connection_answer(
    compiler: Compiler, connection: GraphQLObjectType, details: list[FieldDetails]
) -> tuple[Callable[[Page[Row], Env], Awaitable[dict[str, Any]]], bool]:
    """How to answer a connection for this selection, and whether it asks the total."""
    parts: list[tuple[str, str, Any]] = []
    counts = False
    for key, found in compiler.subfields(connection, details).items():
        name = found[0].node.name.value
        if name == "__typename":
            parts.append((key, "typename", connection.name))
        elif name == "totalCount":
            counts = True
            parts.append((key, "total", None))
        elif name == "pageInfo":
            info_type = _named(connection.fields[name].type)[0]
            info = [
                (k, f[0].node.name.value) for k, f in compiler.subfields(info_type, found).items()
            ]
            parts.append((key, "pageInfo", (info_type.name, info)))
        elif name == "edges":
            edge_type = _named(connection.fields[name].type)[0]
            edge: list[tuple[str, str, Any]] = []
            for k, f in compiler.subfields(edge_type, found).items():
                edge_name = f[0].node.name.value
                if edge_name == "node":
                    node_type = _named(edge_type.fields["node"].type)[0]
                    sub = compiler.object_plan(node_type, compiler.subfields(node_type, f))
                    edge.append((k, "node", sub))
                elif edge_name == "__typename":
                    edge.append((k, "typename", edge_type.name))
                else:
                    edge.append((k, edge_name, None))
            parts.append((key, "edges", edge))
        else:
            raise NotCovered(f"{connection.name}.{name}")

    async def answer(page: Page[Row], env: Env) -> dict[str, Any]:
        cursors = [encode_cursor(row["id"]) for row in page.items]
        result: dict[str, Any] = {}
        for key, kind, extra in parts:
            if kind == "typename":
                result[key] = extra
            elif kind == "total":
                result[key] = page.total
            elif kind == "pageInfo":
                result[key] = _page_info(page, cursors, extra)
            else:
                result[key] = await _edges(page.items, cursors, extra, env)
        return result

    return answer, counts


def _page_info(
    page: Page[Row], cursors: list[str], shape: tuple[str, list[tuple[str, str]]]
) -> dict[str, Any]:
    type_name, fields = shape
    values = {
        "hasNextPage": page.has_next,
        "hasPreviousPage": page.has_previous,
        "startCursor": cursors[0] if cursors else None,
        "endCursor": cursors[-1] if cursors else None,
        "__typename": type_name,
    }
    return {key: values[name] for key, name in fields}


async def _edges(
    rows: list[Row], cursors: list[str], shape: list[tuple[str, str, Any]], env: Env
) -> list[dict[str, Any]]:
    columns: list[tuple[str, list[Any]]] = []
    for key, kind, extra in shape:
        if kind == "node":
            columns.append((key, await extra.objects(rows, env)))
        elif kind == "typename":
            columns.append((key, [extra] * len(rows)))
        else:  # cursor
            columns.append((key, cursors))
    return [{key: values[i] for key, values in columns} for i in range(len(rows))]
