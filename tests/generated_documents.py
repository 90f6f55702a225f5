"""Read documents for the differential oracle: hypothesis-graphql's, dressed as clients
write them.

hypothesis-graphql draws valid selections over `schema/schema.graphql` with every argument
present and literal. `requests()` then rewrites each document, one random choice per node:
arguments are steered towards the seeded rows (ids, cursors, page sizes, emails, dates) or
left out, some are passed as variables (some of those by the variable's default), fields
get aliases, repeats, `@include`/`@skip` and `__typename`, and selection sets move into
named or inline fragments. Every rewrite keeps the document valid, so what a path answers
is decided by execution, not by the validator.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import graphql
import hypothesis_graphql
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from tests.helpers import gid

ROOT = Path(__file__).resolve().parent.parent
SDL = (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8")
SCHEMA = graphql.build_schema(SDL)
QUERY = SCHEMA.query_type
assert QUERY is not None

# The root fields the compiled path covers (issue 13); every other one falls back.
COVERED_ROOTS = (
    "viewer",
    "account",
    "balance",
    "lots",
    "transactions",
    "redemptions",
    "myRedemptions",
    "courses",
)
ALL_ROOTS = tuple(QUERY.fields)
NON_NULL_ROOTS = frozenset(
    name for name, root in QUERY.fields.items() if isinstance(root.type, graphql.GraphQLNonNull)
)

NODE_TYPES = tuple(
    sorted(
        kind.name
        for kind in SCHEMA.type_map.values()
        if isinstance(kind, graphql.GraphQLObjectType)
        and any(interface.name == "Node" for interface in kind.interfaces)
    )
)
SEEDED_PKS = range(1, 13)  # the seeded rows of each type are among these
SEEDED_DAY = date(2025, 1, 10)  # the seed's first day; it ends on 2026-03-01


def cursor(value: object) -> str:
    """A cursor as graph.connections writes them, around any key."""
    return base64.urlsafe_b64encode(f"k:{value}".encode()).decode()


def _odd_id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


SEEDED_IDS = st.builds(gid, st.sampled_from(NODE_TYPES), st.sampled_from(SEEDED_PKS))
ODD_IDS = st.one_of(
    st.sampled_from(
        ("1", "0", "", "Lot:2", gid("Nope", 1), gid("Account", 0), gid("Lot", 2) + "==")
    ),
    st.builds(lambda kind, key: _odd_id(f"{kind}:{key}"), st.sampled_from(NODE_TYPES), st.text()),
    st.text(max_size=12),
)
IDS = st.one_of(SEEDED_IDS, SEEDED_IDS, SEEDED_IDS, ODD_IDS)
SEEDED_ACCOUNTS = st.sampled_from([gid("Account", n) for n in (1, 1, 2, 3)])
ACCOUNT_IDS = st.one_of(SEEDED_ACCOUNTS, SEEDED_ACCOUNTS, SEEDED_ACCOUNTS, ODD_IDS, SEEDED_IDS)
PAGE_SIZES = st.one_of(
    st.sampled_from((0, 1, 2, 3, 5, 20, 100, 101, -1)), st.integers(-(2**31), 2**31 - 1)
)
VALID_CURSORS = st.integers(1, 40).map(cursor)
CURSORS = st.one_of(
    VALID_CURSORS,
    VALID_CURSORS,
    VALID_CURSORS,
    st.sampled_from(
        (cursor(0), cursor(""), cursor(2**31), cursor(2**63), cursor("\uff11"), "k:1", "", "=")
    ),
    st.text(max_size=12),
)
EMAILS = st.sampled_from(
    (
        "lee@example.com",
        "LEE@Example.COM",
        "kim@example.com",
        "ann@example.com",
        " lee@example.com",
        "nobody@example.com",
        "",
        "%",
        "_@example.com",
    )
)
NEAR_DAYS = st.integers(-30, 450).map(lambda n: (SEEDED_DAY + timedelta(days=n)).isoformat())
DAYS = st.one_of(
    NEAR_DAYS,
    NEAR_DAYS,
    NEAR_DAYS,
    st.dates().map(date.isoformat),
    st.sampled_from(("0001-01-01", "9999-12-31", "2026-02-29", "2026-13-01", "today")),
)
DATETIMES = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    st.sampled_from(("2026-03-01T09:00:00Z", "2026-03-01T09:00:00", "0001-01-01T00:00:00Z")),
)
# Values steered by argument name (hypothesis-graphql's own values are kept one time in four).
STEERED: dict[str, st.SearchStrategy[Any]] = {
    "id": ACCOUNT_IDS,  # account(id:), and node(id:)
    "accountId": ACCOUNT_IDS,
    "ids": st.lists(IDS, max_size=4),
    "first": PAGE_SIZES,
    "last": PAGE_SIZES,
    "after": CURSORS,
    "before": CURSORS,
    "learnerEmail": EMAILS,
    "search": st.one_of(EMAILS, st.sampled_from(("Oracle", "SKU", "a", "", "%"))),
    "from": DAYS,
    "to": DAYS,
    "credits": st.sampled_from((1, 100, 1_000, 25_000, 0, -1)),
}
CUSTOM_SCALARS = {
    "ID": IDS.map(nodes.String),
    "Date": DAYS.map(nodes.String),
    "DateTime": DATETIMES.map(nodes.String),
    "JSON": st.just(nodes.String("{}")),
}
# One strategy per covered root field, so that each gets its share: over all of them at
# once hypothesis-graphql mostly picks the cheap ones (viewer, account).
ROOT_DOCUMENTS = {
    root: hypothesis_graphql.queries(
        SCHEMA, fields=[root], custom_scalars=CUSTOM_SCALARS, print_ast=lambda d: d
    )
    for root in COVERED_ROOTS
}
ALL_DOCUMENTS = hypothesis_graphql.queries(
    SCHEMA, custom_scalars=CUSTOM_SCALARS, print_ast=lambda d: d
)


@dataclass(frozen=True)
class Request:
    """A document to send, with its variables; `covered`: only covered root fields."""

    document: str
    variables: dict[str, Any]
    covered: bool


def _name(value: str) -> graphql.NameNode:
    return graphql.NameNode(value=value)


def _literal(value: Any) -> graphql.ValueNode:
    node = graphql.ast_from_value(value, _LITERAL_TYPES[type(value)])
    assert node is not None
    return node


_LITERAL_TYPES: dict[type, graphql.GraphQLInputType] = {
    bool: graphql.GraphQLBoolean,
    int: graphql.GraphQLInt,
    str: graphql.GraphQLString,
    list: graphql.GraphQLList(graphql.GraphQLString),
}


@dataclass
class _Rewriter:
    """One document's rewrite: the choices come from `draw`, the names are numbered."""

    draw: st.DrawFn
    variables: dict[str, Any] = field(default_factory=dict)
    definitions: list[graphql.VariableDefinitionNode] = field(default_factory=list)
    fragments: list[graphql.FragmentDefinitionNode] = field(default_factory=list)
    counter: int = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def chance(self, percent: int) -> bool:
        return bool(self.draw(st.integers(0, 99)) < percent)

    def variable(
        self, kind: graphql.GraphQLInputType, value: graphql.ValueNode
    ) -> graphql.ValueNode:
        """A variable carrying `value`: in the request's variables, or as its default."""
        name = self.fresh("v")
        default = None
        if self.chance(25) and not isinstance(value, graphql.NullValueNode):
            default = value
        else:
            self.variables[name] = graphql.value_from_ast_untyped(value)
        self.definitions.append(
            graphql.VariableDefinitionNode(
                variable=graphql.VariableNode(name=_name(name)),
                type=graphql.parse_type(str(kind)),
                default_value=cast(graphql.ConstValueNode | None, default),  # literals only
                directives=(),
            )
        )
        return cast(graphql.ValueNode, graphql.VariableNode(name=_name(name)))

    def arguments(
        self, field_def: graphql.GraphQLField, given: tuple[graphql.ArgumentNode, ...]
    ) -> tuple[graphql.ArgumentNode, ...]:
        rewritten = []
        for argument in given:
            definition = field_def.args[argument.name.value]
            required = graphql.is_required_argument(definition)
            if not required and self.chance(40):
                continue  # left out: the argument's default
            value = argument.value
            steer = STEERED.get(argument.name.value)
            if steer is not None and self.chance(75):
                value = _literal(self.draw(steer))
            if self.chance(25):
                value = self.variable(definition.type, value)
            rewritten.append(graphql.ArgumentNode(name=argument.name, value=value))
        return tuple(rewritten)

    def directives(self) -> tuple[graphql.DirectiveNode, ...]:
        if not self.chance(12):
            return ()
        name = self.draw(st.sampled_from(("include", "skip")))
        condition: graphql.ValueNode = graphql.BooleanValueNode(value=self.draw(st.booleans()))
        if self.chance(50):
            condition = self.variable(graphql.GraphQLNonNull(graphql.GraphQLBoolean), condition)
        argument = graphql.ArgumentNode(name=_name("if"), value=condition)
        return (graphql.DirectiveNode(name=_name(name), arguments=(argument,)),)

    def selection_set(
        self, selections: graphql.SelectionSetNode, parent: graphql.GraphQLNamedType
    ) -> graphql.SelectionSetNode:
        assert isinstance(parent, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
        rewritten: list[graphql.SelectionNode] = []
        for selection in selections.selections:
            if isinstance(selection, graphql.FieldNode):
                node = self.field(selection, parent)
                rewritten.append(node)
                if self.chance(8):
                    rewritten.append(node)  # the same field twice: the answers merge
            elif isinstance(selection, graphql.InlineFragmentNode):
                condition = selection.type_condition
                kind = SCHEMA.get_type(condition.name.value) if condition else parent
                assert kind is not None
                rewritten.append(
                    graphql.InlineFragmentNode(
                        type_condition=condition,
                        directives=self.directives(),
                        selection_set=self.selection_set(selection.selection_set, kind),
                    )
                )
            else:
                rewritten.append(selection)
        if self.chance(15):
            rewritten.insert(self.draw(st.integers(0, len(rewritten))), _field("__typename"))
        return graphql.SelectionSetNode(selections=tuple(rewritten))

    def field(
        self,
        node: graphql.FieldNode,
        parent: graphql.GraphQLObjectType | graphql.GraphQLInterfaceType,
    ) -> graphql.FieldNode:
        name = node.name.value
        if name.startswith("__"):
            return node
        field_def = parent.fields[name]
        selection_set = node.selection_set
        if selection_set is not None:
            kind = graphql.get_named_type(field_def.type)
            selection_set = self.selection_set(self.with_edges(selection_set, kind), kind)
            if self.chance(20):
                selection_set = self.fragment(selection_set, kind)
        alias = node.alias
        if alias is None and self.chance(15):
            alias = _name(self.fresh("a"))
        return graphql.FieldNode(
            alias=alias,
            name=node.name,
            arguments=self.arguments(field_def, tuple(node.arguments or ())),
            directives=self.directives(),
            selection_set=selection_set,
        )

    def with_edges(
        self, selections: graphql.SelectionSetNode, kind: graphql.GraphQLNamedType
    ) -> graphql.SelectionSetNode:
        """A connection's selections, most of the time with its edges: hypothesis-graphql
        weighs fields over the whole schema and seldom goes down to the rows."""
        if not kind.name.endswith("Connection") or not self.chance(70):
            return selections
        assert isinstance(kind, graphql.GraphQLObjectType)
        edges = graphql.FieldNode(
            name=_name("edges"),
            arguments=(),
            directives=(),
            selection_set=self.selection(graphql.get_named_type(kind.fields["edges"].type), 0),
        )
        return graphql.SelectionSetNode(selections=(*selections.selections, edges))

    def selection(self, kind: graphql.GraphQLNamedType, depth: int) -> graphql.SelectionSetNode:
        """A random selection on `kind`, down to a few levels: each field one time in two,
        an edge's `node` always, objects only while not too deep."""
        assert isinstance(kind, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
        chosen: list[graphql.SelectionNode] = []
        for name, field_def in kind.fields.items():
            target = graphql.get_named_type(field_def.type)
            leaf = graphql.is_leaf_type(target)
            if not leaf and depth >= 3:
                continue
            if not (name == "node" or self.chance(35 if not leaf else 50)):
                continue
            selection_set = None if leaf else self.selection(target, depth + 1)
            chosen.append(
                graphql.FieldNode(
                    name=_name(name), arguments=(), directives=(), selection_set=selection_set
                )
            )
        return graphql.SelectionSetNode(selections=tuple(chosen) or (_field("__typename"),))

    def fragment(
        self, selections: graphql.SelectionSetNode, kind: graphql.GraphQLNamedType
    ) -> graphql.SelectionSetNode:
        """The same selections through a named fragment, or an inline one."""
        on = graphql.NamedTypeNode(name=_name(kind.name))
        spread: graphql.SelectionNode
        if self.chance(60):
            name = self.fresh("F")
            self.fragments.append(
                graphql.FragmentDefinitionNode(
                    name=_name(name),
                    type_condition=on,
                    selection_set=selections,
                    directives=(),
                    variable_definitions=None,
                )
            )
            spread = graphql.FragmentSpreadNode(name=_name(name), directives=self.directives())
        else:
            condition = on if self.chance(50) else None
            spread = graphql.InlineFragmentNode(
                type_condition=condition, selection_set=selections, directives=self.directives()
            )
        return graphql.SelectionSetNode(selections=(spread,))

    def document(self, generated: graphql.DocumentNode) -> str:
        (operation,) = generated.definitions
        assert isinstance(operation, graphql.OperationDefinitionNode) and QUERY is not None
        selections = self.selection_set(operation.selection_set, QUERY)
        name = _name("Oracle") if self.chance(30) else None
        rewritten = graphql.OperationDefinitionNode(
            operation=graphql.OperationType.QUERY,
            name=name,
            variable_definitions=tuple(self.definitions),
            directives=(),
            selection_set=selections,
        )
        return graphql.print_ast(graphql.DocumentNode(definitions=(rewritten, *self.fragments)))


def _field(name: str) -> graphql.FieldNode:
    return graphql.FieldNode(name=_name(name), arguments=(), directives=())


def _selections(document: graphql.DocumentNode) -> tuple[graphql.FieldNode, ...]:
    (operation,) = document.definitions
    assert isinstance(operation, graphql.OperationDefinitionNode)
    return tuple(cast(graphql.FieldNode, node) for node in operation.selection_set.selections)


@st.composite
def requests(draw: st.DrawFn, covered_share: int = 85) -> Request:
    """A rewritten document: over one to three covered root fields `covered_share` % of
    the time (the same one may come twice, aliased), over any root fields of Query
    otherwise."""
    if draw(st.integers(0, 99)) < covered_share:
        roots = draw(st.lists(st.sampled_from(COVERED_ROOTS), min_size=1, max_size=3))
        fields: list[graphql.FieldNode] = []
        for root in roots:
            for node in _selections(draw(ROOT_DOCUMENTS[root])):
                if any(other.name.value == node.name.value for other in fields):
                    node = graphql.FieldNode(
                        alias=_name(f"r{len(fields)}"),
                        name=node.name,
                        arguments=node.arguments,
                        directives=node.directives,
                        selection_set=node.selection_set,
                    )
                fields.append(node)
    else:
        fields = list(_selections(draw(ALL_DOCUMENTS)))
    generated = graphql.DocumentNode(
        definitions=(
            graphql.OperationDefinitionNode(
                operation=graphql.OperationType.QUERY,
                selection_set=graphql.SelectionSetNode(selections=tuple(fields)),
            ),
        )
    )
    rewriter = _Rewriter(draw)
    document = rewriter.document(generated)
    covered = {node.name.value for node in fields} <= set(COVERED_ROOTS)
    return Request(document, rewriter.variables, covered)
