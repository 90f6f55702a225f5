"""The mutations the compiled path answers: the hot ones, where graphql-core's and
Strawberry's per-field work is most of a request's cost (`redeemCredits`: hundreds a
second on one account at the start of a quarter; issue 14, decision 32).

A covered mutation calls the ledger rule through its resolver's own `Change`
(`resolvers.mutations`), so the arguments, the id decoding, the rule and its refusals are
the reference executor's; only the answer is built here, by the same plans as the reads
(`compiled.plan`), from the row the rule answered or from the ledger error it raised.
Everything a plan needs is compiled before the rule runs, so a selection the plan does
not cover goes to the reference executor with nothing done. Should building the answer
still fail after the rule ran (a database error reading the result's course), the
reference executor answers the request again: a covered mutation must be idempotent
(`redeemCredits` takes a key, so the second run replays the first's answer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLInputObjectType, GraphQLObjectType
from graphql.execution.collect_fields import FieldDetails

from compiled.plan import Compiler, NotCovered, RootField, unwrap
from compiled.roots import row_of
from compiled.shapes import Env
from ledger import reads
from ledger.errors import LedgerError
from resolvers import mutations
from resolvers.common import Change

DEFINITION = "strawberry-definition"  # where Strawberry keeps a type's and a field's own


@dataclass(frozen=True)
class Covered:
    """A mutation field: the resolver's `Change` (which names what it takes from the
    request: `Env` holds the same names as the GraphQL context), and the rows joined to
    its result when the selection shows them."""

    change: Change[Any]
    joins: tuple[reads.Joined, ...] = ()


MUTATIONS: dict[str, Covered] = {
    "redeemCredits": Covered(mutations.REDEEM_CREDITS, reads.REDEMPTION_JOINS),
}


def mutation_field(
    compiler: Compiler, mutation: GraphQLObjectType, key: str, details: list[FieldDetails]
) -> RootField:
    """The plan of one covered mutation field: NotCovered before anything is done."""
    node = details[0].node
    name = node.name.value
    covered = MUTATIONS.get(name)
    if covered is None:
        raise NotCovered(f"Mutation.{name}")
    field_def = mutation.fields[name]
    names = {
        argument: _python_names(unwrap(definition.type))
        for argument, definition in field_def.args.items()
    }
    payload = unwrap(field_def.type)
    answer = _payload_answer(compiler, payload, details, covered.joins)

    async def source(env: Env, arguments: dict[str, Any], count: bool) -> object:
        given: dict[str, object] = {}
        for argument, value in arguments.items():
            given.update((names[argument][k], v) for k, v in value.items())
        return await covered.change.outcome(env.actor, given, env)

    return RootField(key, field_def, node, source, answer)


def _python_names(input_type: Any) -> dict[str, str]:
    """An input object's fields: GraphQL name → the Python name the rule takes. Only flat
    inputs are covered (scalars and enums, which graphql-core already coerces)."""
    if not isinstance(input_type, GraphQLInputObjectType):
        raise NotCovered("an argument that is not an input object")
    found = {}
    for graphql_name, field in input_type.fields.items():
        if isinstance(unwrap(field.type), GraphQLInputObjectType):
            raise NotCovered("a nested input object")
        found[graphql_name] = field.extensions[DEFINITION].python_name
    return found


def _payload_answer(
    compiler: Compiler,
    payload: GraphQLObjectType,
    details: list[FieldDetails],
    joins: tuple[reads.Joined, ...],
) -> Callable[[Any, Env], Awaitable[dict[str, Any]]]:
    """How to answer the payload's selection from the rule's row or its ledger error;
    the row is read again with `joins` only when the selection shows what they join."""
    plan = compiler.object_plan(payload, compiler.subfields(payload, details))
    if not any(sub.embeds for _, _, sub, _ in plan.links):
        joins = ()

    async def answer(outcome: Any, env: Env) -> dict[str, Any]:
        row: reads.Row
        if isinstance(outcome, LedgerError):
            row = {"result": None, "errors": [outcome.to_dict()]}
        else:
            row = {"result": await _row(outcome, joins), "errors": []}
        return (await plan.objects([row], env))[0]

    return answer


async def _row(model: Any, joins: tuple[reads.Joined, ...]) -> reads.Row:
    """The rule's object as a row; with `joins`, read again with its joined rows."""
    if not joins:
        return row_of(model)
    return (await reads.by_id(type(model), [model.id], joins))[model.id]
