import { useState } from "react";

import { type LotStatus, LotsDocument } from "../generated/graphql";
import { credits, day, daysUntil } from "../format";
import { useCursorPages, useQuery } from "../hooks";
import { Pager } from "./Pager";

const PAGE = 10;
const SOON_DAYS = 90;

/** The account's lots with what remains and when it expires; active ones by default. */
export function LotsPanel({ token, refresh }: { token: string; refresh: number }) {
  const [status, setStatus] = useState<LotStatus | null>("ACTIVE");
  const pages = useCursorPages(status);
  const { data, error } = useQuery(token, LotsDocument, { status, first: PAGE, after: pages.after }, refresh);
  const lots = data?.lots?.edges.map((e) => e.node) ?? [];

  return (
    <section id="lots" className="panel">
      <h2>
        Lots <span className="count">{data?.lots?.totalCount ?? ""}</span>
      </h2>
      <label className="filter">
        <input type="checkbox" checked={status === null} onChange={() => setStatus(status ? null : "ACTIVE")} />{" "}
        include depleted and expired
      </label>
      {error && <p className="problem">{error.message}</p>}
      {lots.length === 0 ? (
        <p className="muted">No lots.</p>
      ) : (
        <table data-testid="lots-table">
          <thead>
            <tr>
              <th className="num">Remaining</th>
              <th>Purchased</th>
              <th>Expires</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {lots.map((lot) => {
              const days = daysUntil(lot.expiresAt);
              const soon = lot.status === "ACTIVE" && days < SOON_DAYS;
              return (
                <tr key={lot.id} className={soon ? "soon" : undefined}>
                  <td className="num">
                    {credits(lot.remaining)} <span className="muted">/ {credits(lot.credits)}</span>
                  </td>
                  <td>{day(lot.purchasedAt)}</td>
                  <td>
                    {day(lot.expiresAt)}
                    {lot.status === "ACTIVE" && (
                      <span className={soon ? "tag tag-warn" : "tag"}>{days < 1 ? "today" : `in ${days} d`}</span>
                    )}
                  </td>
                  <td>{lot.status.toLowerCase()}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager pages={pages} pageInfo={data?.lots?.pageInfo} label="Lots" />
    </section>
  );
}
