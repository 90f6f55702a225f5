import type { TransactionKind, TransactionsQuery } from "../generated/graphql";
import { TransactionsDocument } from "../generated/graphql";
import { credits, instant, signedCredits } from "../format";
import { useCursorPages, useQuery } from "../hooks";
import { Pager } from "./Pager";

const PAGE = 10;

type Entry = NonNullable<TransactionsQuery["transactions"]>["edges"][number]["node"];

const KIND: Record<TransactionKind, string> = {
  PURCHASE: "Purchase",
  REDEMPTION: "Redemption",
  EXPIRY: "Expired",
  REVERSAL: "Reversal",
  ADJUSTMENT: "Adjustment",
  EXTENSION: "Expiry extended",
};

/** The ledger, newest first, a page at a time. */
export function HistoryPanel({ token, refresh }: { token: string; refresh: number }) {
  const pages = useCursorPages(null);
  const { data, error } = useQuery(token, TransactionsDocument, { first: PAGE, after: pages.after }, refresh);
  const entries = data?.transactions?.edges.map((e) => e.node) ?? [];

  return (
    <section id="history" className="panel">
      <h2>
        History <span className="count">{data?.transactions?.totalCount ?? ""}</span>
      </h2>
      {error && <p className="problem">{error.message}</p>}
      {entries.length === 0 ? (
        <p className="muted">Nothing yet.</p>
      ) : (
        <table data-testid="history-table">
          <thead>
            <tr>
              <th>When</th>
              <th>What</th>
              <th className="num">Credits</th>
              <th className="num">Balance</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((t) => (
              <tr key={t.id} data-kind={t.kind}>
                <td className="when">{instant(t.createdAt)}</td>
                <td>
                  {KIND[t.kind]} <span className="muted">{describe(t)}</span>
                </td>
                <td className={t.credits < 0 ? "num minus" : "num plus"}>{signedCredits(t.credits)}</td>
                <td className="num">{credits(t.balanceAfter)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pages={pages} pageInfo={data?.transactions?.pageInfo} label="History" />
    </section>
  );
}

function describe(t: Entry): string {
  if (t.redemption) return `${t.redemption.course.title} · ${t.redemption.learner.email}`;
  return t.reason ?? t.reference ?? t.actor?.name ?? "";
}
