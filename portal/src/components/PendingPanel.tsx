import { useEffect, useState } from "react";

import { ApiError, request } from "../api";
import {
  ApproveRedemptionsDocument,
  DenyRedemptionsDocument,
  PendingRedemptionsDocument,
} from "../generated/graphql";
import { credits, instant } from "../format";
import { useCursorPages, useQuery } from "../hooks";
import { Pager } from "./Pager";

const PAGE = 25;

interface Props {
  token: string;
  refresh: number;
  onDecided: () => void;
}

/** Pending redemption requests, decided in bulk (the server decides oldest first). */
export function PendingPanel({ token, refresh, onDecided }: Props) {
  const pages = useCursorPages(null);
  const { data, error } = useQuery(token, PendingRedemptionsDocument, { first: PAGE, after: pages.after }, refresh);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ text: string; problems: string[] } | null>(null);

  const rows = data?.redemptions?.edges.map((e) => e.node) ?? [];
  // A request decided elsewhere (another owner, the learner cancelling) leaves the selection.
  const shown = rows.map((r) => r.id).join(",");
  useEffect(() => {
    const ids = new Set(shown.split(","));
    setSelected((s) => new Set([...s].filter((id) => ids.has(id))));
  }, [shown]);

  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const toggleAll = () => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)));

  const decide = async (approve: boolean) => {
    const ids = [...selected];
    setBusy(true);
    setOutcome(null);
    try {
      if (approve) {
        const { approveRedemptions: p } = await request(token, ApproveRedemptionsDocument, { ids });
        const done = p.redemptions.filter((r) => r.status === "APPROVED").length;
        setOutcome({
          text: `Approved ${done} of ${ids.length} (${credits(p.totalCredits)} credits).`,
          problems: p.errors.map((e) => e.message),
        });
      } else {
        const { denyRedemptions: p } = await request(token, DenyRedemptionsDocument, {
          ids,
          reason: reason.trim() || null,
        });
        const done = p.redemptions.filter((r) => r.status === "DENIED").length;
        setOutcome({ text: `Denied ${done} of ${ids.length}.`, problems: p.errors.map((e) => e.message) });
        setReason("");
      }
      setSelected(new Set());
    } catch (e) {
      setOutcome({ text: "Nothing was decided.", problems: [e instanceof ApiError ? e.message : String(e)] });
    } finally {
      setBusy(false);
      onDecided();
    }
  };

  const total = data?.redemptions?.totalCount ?? 0;
  return (
    <section id="redemptions" className="panel">
      <h2>
        Waiting for approval <span className="count" data-testid="pending-count">{total}</span>
      </h2>
      {error && <p className="problem">{error.message}</p>}
      {rows.length === 0 ? (
        <p className="muted">No requests are waiting.</p>
      ) : (
        <table data-testid="pending-table">
          <thead>
            <tr>
              <th className="check">
                <input type="checkbox" aria-label="Select all" checked={allSelected} onChange={toggleAll} />
              </th>
              <th>Learner</th>
              <th>Course</th>
              <th className="num">Credits</th>
              <th>Requested</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-testid="pending-row" data-learner={r.learner.email}>
                <td className="check">
                  <input
                    type="checkbox"
                    aria-label={`Select ${r.learner.name}: ${r.course.title}`}
                    checked={selected.has(r.id)}
                    onChange={() => toggle(r.id)}
                  />
                </td>
                <td>
                  {r.learner.name} <span className="muted">{r.learner.email}</span>
                </td>
                <td>{r.course.title}</td>
                <td className="num">{credits(r.credits)}</td>
                <td>{instant(r.requestedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pages={pages} pageInfo={data?.redemptions?.pageInfo} />
      <div className="actions">
        <button disabled={busy || selected.size === 0} onClick={() => decide(true)}>
          Approve selected ({selected.size})
        </button>
        <input
          className="reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          placeholder="Reason for denying (optional, sent to the learner)"
          aria-label="Reason for denying"
        />
        <button className="danger" disabled={busy || selected.size === 0} onClick={() => decide(false)}>
          Deny selected
        </button>
      </div>
      {outcome && (
        <div className="outcome" role="status" data-testid="decision-outcome">
          {outcome.text}
          {outcome.problems.length > 0 && (
            <ul className="problem">
              {outcome.problems.map((p, i) => (
                <li key={i}>{p}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
