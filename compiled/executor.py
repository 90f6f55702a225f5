"""The compiled path: a query document the plans cover, or one covered mutation
(`compiled.mutations`: `redeemCredits`), is answered without graphql-core's per-field
work; any other request, and any request that would answer an error, goes to the
reference executor, unchanged (decisions 27 and 32).

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
    GraphQLObjectType,
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
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields
from graphql.execution.values import VariableValues, get_variable_values

from compiled import roots
from compiled.mutations import mutation_field
from compiled.plan import Compiler, NotCovered, Plan, RootField, connection_answer, unwrap
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
COVERED_OPERATIONS = (OperationType.QUERY, OperationType.MUTATION)


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
        if operation is None or operation.operation not in COVERED_OPERATIONS:
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
            env = Env(actor=actor, now=clock.now(), client_address=ctx.client_address)
            data = await plan.run(env, coerced)
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
    kind = document.operation.operation
    root = schema.query_type if kind is OperationType.QUERY else schema.mutation_type
    if root is None:
        raise NotCovered(f"no {kind.value} type")
    compiler = Compiler(schema, document.fragments, variables, document.operation)
    collected = collect_fields(schema, document.fragments, variables, root, document.operation)
    if collected.new_defer_usages:
        raise NotCovered("@defer")
    fields: list[RootField] = []
    for key, found in collected.grouped_field_set.items():
        details = list(found)
        node = details[0].node
        if node.name.value == "__typename":
            fields.append(RootField(key, None, node, _typename(root.name), _same))
        elif kind is OperationType.MUTATION:
            fields.append(mutation_field(compiler, root, key, details))
        else:
            fields.append(_query_field(compiler, root, key, details))
    if kind is OperationType.MUTATION and sum(f.field_def is not None for f in fields) > 1:
        raise NotCovered("several mutations in one operation")  # one rule run, or none
    name = document.operation.name.value if document.operation.name else "anonymous"
    return Plan(fields, GRAPHQL_OPERATIONS.labels(name[:64], kind.value, "ok"))


def _query_field(
    compiler: Compiler, query: GraphQLObjectType, key: str, details: list[FieldDetails]
) -> RootField:
    node = details[0].node
    name = node.name.value
    source = roots.ROOTS.get(name)
    if source is None:
        raise NotCovered(f"Query.{name}")
    field_def = query.fields[name]
    target = unwrap(field_def.type)
    if target.name.endswith("Connection"):
        answer, counts = connection_answer(compiler, target, details)
        return RootField(key, field_def, node, source, answer, counts)
    plan = compiler.object_plan(target, compiler.subfields(target, details))
    return RootField(key, field_def, node, source, _one(plan))


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
