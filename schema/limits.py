"""Depth and alias limits, measured in one pass that is linear in the document.

Depth counts every field down to `__schema` and `__type`; below them, graphql-core's
MaxIntrospectionDepthRule (one of the specified rules) bounds the nesting of `fields`,
`interfaces`, `possibleTypes` and `inputFields`, and the token limit bounds the rest. So
the standard introspection queries of graphql-js, gql, codegen and Apollo (about 15
fields deep, mostly `ofType`) pass, and a deep or cyclic introspection query does not.
Aliases are counted everywhere, as Strawberry's MaxAliasesLimiter counts them (a fragment
spread twice counts twice), but without its walk.

Both Strawberry limiters and the first version of this rule walked a fragment again at
every spread, so `fragment F0 on Query { ...F1 ...F1 }` … `fragment F22 …` (a 1 KB
document) took seconds, doubling with each level. Here each definition is walked once and
each fragment's size is computed once from the sizes of the fragments it spreads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass
class _Local:
    """What one definition holds by itself, and where it spreads fragments."""

    depth: int = 0
    aliases: int = 0
    # (fragment, fields above; None below an introspection root, where depth is not ours)
    spreads: list[tuple[str, int | None]] = field(default_factory=list)


@dataclass(frozen=True)
class _Size:
    depth: int
    aliases: int


def _walk(selection_set: SelectionSetNode | None, above: int | None, local: _Local) -> None:
    # Recursion here follows the nesting of one definition, which the parser bounds.
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            local.aliases += selection.alias is not None
            below: int | None = None
            if above is not None:
                local.depth = max(local.depth, above + 1)
                if selection.name.value not in INTROSPECTION_ROOTS:
                    below = above + 1
            _walk(selection.selection_set, below, local)
        elif isinstance(selection, InlineFragmentNode):
            _walk(selection.selection_set, above, local)
        elif isinstance(selection, FragmentSpreadNode):
            local.spreads.append((selection.name.value, above))


def _local(selection_set: SelectionSetNode) -> _Local:
    local = _Local()
    _walk(selection_set, 0, local)
    return local


def _fragment_sizes(fragments: dict[str, _Local]) -> dict[str, _Size]:
    """Each fragment's size, bottom-up, with an explicit stack (chains may be long).

    A fragment met again while its own size is being computed is a cycle: it counts as
    empty here, and NoFragmentCyclesRule refuses the document anyway.
    """
    sizes: dict[str, _Size] = {}
    for root in fragments:
        stack: list[tuple[str, bool]] = [(root, False)]
        entered: set[str] = set()
        while stack:
            name, children_done = stack.pop()
            if name in sizes or name not in fragments:
                continue
            local = fragments[name]
            if not children_done:
                if name in entered:
                    continue
                entered.add(name)
                stack.append((name, True))
                stack.extend((spread, False) for spread, _ in local.spreads)
                continue
            entered.discard(name)
            sizes[name] = _size(local, sizes)
    return sizes


def _size(local: _Local, sizes: dict[str, _Size]) -> _Size:
    """A definition's size, given the sizes of the fragments it spreads."""
    depth, aliases = local.depth, local.aliases
    for spread, above in local.spreads:
        size = sizes.get(spread)
        if size is not None:
            if above is not None:
                depth = max(depth, above + size.depth)
            aliases += size.aliases
    return _Size(depth, aliases)


def limits_rule(*, max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """A validation rule refusing operations deeper than `max_depth` fields, and documents
    with more than `max_aliases` aliased fields (counted through fragments)."""

    class Limits(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            fragments: dict[str, _Local] = {}
            operations: list[tuple[OperationDefinitionNode, _Local]] = []
            for definition in node.definitions:
                if isinstance(definition, FragmentDefinitionNode):
                    fragments.setdefault(definition.name.value, _local(definition.selection_set))
                elif isinstance(definition, OperationDefinitionNode):
                    operations.append((definition, _local(definition.selection_set)))
            sizes = _fragment_sizes(fragments)
            total_aliases = 0
            for operation, local in operations:
                size = _size(local, sizes)
                total_aliases += size.aliases
                if size.depth > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    message = f"'{name}' is {size.depth} fields deep; the limit is {max_depth}"
                    self.report_error(GraphQLError(message, operation))
            if total_aliases > max_aliases:
                message = f"{total_aliases} aliases found. Allowed: {max_aliases}"
                self.report_error(GraphQLError(message))

    return Limits
