"""A depth limit that counts every field, introspection included.

Strawberry's QueryDepthLimiter skips fields whose names start with `__`, so a deep
`__schema { types { fields { type { ofType … } } } }` query passes it: this rule does not.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)


def _depth(
    selection_set: SelectionSetNode | None, context: ValidationContext, seen: frozenset[str]
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            below = _depth(selection.selection_set, context, seen)
            deepest = max(deepest, 1 + below)
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, context, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is not None and name not in seen:
                deepest = max(deepest, _depth(fragment.selection_set, context, seen | {name}))
    return deepest


def depth_rule(max_depth: int) -> type[ValidationRule]:
    class MaxDepth(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = _depth(node.selection_set, self.context, frozenset())
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    GraphQLError(f"'{name}' is {depth} fields deep; the limit is {max_depth}", node)
                )

    return MaxDepth
