"""The compiled read path: a query document the plans cover is answered without
graphql-core's per-field work; any other request, and any request that would answer an
error, goes to the reference executor, unchanged (decision 27).

A document is parsed and validated once, with the reference executor's own rules and
limits, and cached by its text; a plan is cached by the text, the operation and the
values of the variables its `@include`/`@skip` read. At most `CACHE_SIZE` of each.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.execution.collect_fields import FragmentDetails, collect_fields
from graphql.execution.values import VariableValues, get_variable_values

from compiled import roots
from compiled.plan import Compiler, NotCovered, Plan, RootField, connection_answer
from compiled.shapes import Env, Fallback
from graph.context import Context
from ledger import clock
from ledger.errors import LedgerError
from observability import GRAPHQL_EXECUTIONS, GRAPHQL_OPERATIONS

log = logging.getLogger("credits.compiled")
_ANSWERED = GRAPHQL_EXECUTIONS.labels("compiled")
CACHE_SIZE = 512
K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)


@dataclass(frozen=True)
class Document:
    """A parsed, valid query operation, and the variables its directives read."""

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDetails]
    directive_variables: tuple[str, ...]


NOT_COVERED = object()


class _DirectiveVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: Any, *_: Any) -> None:
        for argument in node.arguments or ():
            if isinstance(argument.value, VariableNode):
                self.names.add(argument.value.name.value)


class CompiledReads:
    def __init__(
        self,
        schema: GraphQLSchema,
        rules: Sequence[type[ASTValidationRule]],
        *,
        max_tokens: int,
    ) -> None:
        self.schema = schema
        self.rules = [*specified_rules, *rules]
        self.max_tokens = max_tokens
        self.documents: Lru[tuple[str, str | None], object] = Lru(CACHE_SIZE)
        self.plans: Lru[tuple[str, str | None, tuple[Any, ...]], object] = Lru(CACHE_SIZE)

    def document(self, text: str, operation_name: str | None) -> Document | None:
        """The query operation of `text`, if it is valid and a query; else None."""
        key = (text, operation_name)
        found = self.documents.get(key)
        if found is None:
            found = self._document(text, operation_name) or NOT_COVERED
            self.documents.put(key, found)
        return found if isinstance(found, Document) else None

    def _document(self, text: str, operation_name: str | None) -> Document | None:
        try:
            document = parse(text, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if validate(self.schema, document, self.rules):
            return None
        operation = _operation(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        seen = _DirectiveVariables()
        visit(document, seen)
        return Document(operation, fragments, tuple(sorted(seen.names)))

    def plan(self, text: str, document: Document, variables: VariableValues) -> Plan | None:
        directive_values = tuple(
            repr(variables.coerced.get(name)) for name in document.directive_variables
        )
        name = document.operation.name.value if document.operation.name else None
        key = (text, name, directive_values)
        found = self.plans.get(key)
        if found is None:
            try:
                found = _compile(self.schema, document, variables)
            except NotCovered as exc:
                log.debug("not compiled: %s", exc)
                found = NOT_COVERED
            self.plans.put(key, found)
        return found if isinstance(found, Plan) else None

    async def answer(
        self, body: dict[str, Any], context: Callable[[], Any]
    ) -> dict[str, Any] | None:
        """The answer to a request's JSON body, or None for the reference executor."""
        text, variables_given = body.get("query"), body.get("variables")
        operation_name = body.get("operationName")
        if not isinstance(text, str) or not isinstance(operation_name, str | None):
            return None
        if variables_given is not None and not isinstance(variables_given, dict):
            return None
        document = self.document(text, operation_name)
        if document is None:
            return None
        coerced = get_variable_values(
            self.schema, document.operation.variable_definitions or (), variables_given or {}
        )
        if isinstance(coerced, list):  # errors: the reference reports them
            return None
        plan = self.plan(text, document, coerced)
        if plan is None:
            return None
        ctx: Context = await context()
        if ctx.claims is None:
            return None
        try:
            actor = await ctx.actor()
            if actor is None:
                return None
            data = await plan.run(Env(actor=actor, now=clock.now()), coerced)
        except (Fallback, LedgerError, GraphQLError) as exc:
            log.debug("answered by the reference executor: %s", exc)
            return None
        except Exception:  # the reference executor answers it, masked as it masks errors
            log.warning("the compiled path failed; the reference executor answers", exc_info=True)
            return None
        _ANSWERED.inc()
        plan.counter.inc()
        return {"data": data}


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def _compile(schema: GraphQLSchema, document: Document, variables: VariableValues) -> Plan:
    query = schema.query_type
    if query is None:
        raise NotCovered("no query type")
    compiler = Compiler(schema, document.fragments, variables, document.operation)
    collected = collect_fields(schema, document.fragments, variables, query, document.operation)
    if collected.new_defer_usages:
        raise NotCovered("@defer")
    fields: list[RootField] = []
    for key, details in collected.grouped_field_set.items():
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            fields.append(RootField(key, None, node, _typename(query.name), _same))
            continue
        source = roots.ROOTS.get(name)
        if source is None:
            raise NotCovered(f"Query.{name}")
        field_def = query.fields[name]
        target = _unwrap(field_def.type)
        if target.name.endswith("Connection"):
            answer, counts = connection_answer(compiler, target, list(details))
            fields.append(RootField(key, field_def, node, source, answer, counts))
        else:
            plan = compiler.object_plan(target, compiler.subfields(target, list(details)))
            fields.append(RootField(key, field_def, node, source, _one(plan)))
    name = document.operation.name.value if document.operation.name else "anonymous"
    return Plan(fields, GRAPHQL_OPERATIONS.labels(name[:64], "query", "ok"))


def _unwrap(type_: Any) -> Any:
    while hasattr(type_, "of_type"):
        type_ = type_.of_type
    return type_


def _one(plan: Any) -> Callable[[Any, Env], Any]:
    async def answer(row: Any, env: Env) -> Any:
        if row is None:
            return None
        return (await plan.objects([row], env))[0]

    return answer


def _typename(name: str) -> Any:
    async def source(env: Env, arguments: Any, count: bool) -> str:
        return name

    return source


async def _same(value: Any, env: Env) -> Any:
    return value
