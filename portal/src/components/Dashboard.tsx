import { useCallback, useEffect, useState } from "react";

import type { ViewerQuery } from "../generated/graphql";
import { type LiveMode, POLL_SECONDS, useLiveUpdates } from "../live";
import { BalancePanel } from "./BalancePanel";
import { ExportPanel } from "./ExportPanel";
import { HistoryPanel } from "./HistoryPanel";
import { LotsPanel } from "./LotsPanel";
import { PendingPanel } from "./PendingPanel";

type Viewer = ViewerQuery["viewer"];

interface Props {
  token: string;
  user: Viewer["user"];
  account: NonNullable<Viewer["account"]>;
  onSignOut: () => void;
}

/** Sections that emails link to: /portal/redemptions?status=PENDING, /portal/lots. */
const SECTIONS = ["redemptions", "lots", "history"];

export function Dashboard({ token, user, account, onSignOut }: Props) {
  // Every panel reads again when this changes: a live event, a poll, or a decision here.
  const [refresh, setRefresh] = useState(0);
  const bump = useCallback(() => setRefresh((n) => n + 1), []);
  const mode = useLiveUpdates(token, account.id, bump);

  useEffect(() => {
    const section = window.location.pathname.replace(/\/+$/, "").split("/").pop() ?? "";
    if (SECTIONS.includes(section)) document.getElementById(section)?.scrollIntoView();
  }, []);

  return (
    <div className="page">
      <header className="top">
        <div>
          <h1>{account.name}</h1>
          <p className="muted">
            {account.approvalMode === "MANUAL" ? "Requests approved by an owner" : "Requests approved automatically"}
            {account.autoApproveLimit != null && ` (up to ${account.autoApproveLimit} credits at once)`} · code{" "}
            <code data-testid="redemption-code">{account.redemptionCode}</code> · owners{" "}
            {account.owners.map((o) => o.name).join(", ")}
          </p>
        </div>
        <div className="who">
          <LiveBadge mode={mode} />
          <span>{user.name}</span>
          <button className="quiet" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <BalancePanel token={token} refresh={refresh} />
      <PendingPanel token={token} refresh={refresh} onDecided={bump} />
      <div className="columns">
        <LotsPanel token={token} refresh={refresh} />
        <HistoryPanel token={token} refresh={refresh} />
      </div>
      <ExportPanel token={token} />
    </div>
  );
}

function LiveBadge({ mode }: { mode: LiveMode }) {
  const text = {
    connecting: "Connecting…",
    live: "Live",
    polling: `Updating every ${POLL_SECONDS} s`,
  }[mode];
  return (
    <span className={`badge badge-${mode}`} data-testid="live-mode" data-mode={mode}>
      {text}
    </span>
  );
}
