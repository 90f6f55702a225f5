import { useState } from "react";

import { ApiError, request } from "../api";
import { type ExportDataset, type ExportFormat, ExportLinkDocument } from "../generated/graphql";
import { instant } from "../format";

/** A download link for the history, valid for a few minutes (the `exportLink` query). */
export function ExportPanel({ token }: { token: string }) {
  const [dataset, setDataset] = useState<ExportDataset>("TRANSACTIONS");
  const [format, setFormat] = useState<ExportFormat>("CSV");
  const [link, setLink] = useState<{ url: string; expiresAt: string } | null>(null);
  const [problem, setProblem] = useState("");

  const make = async () => {
    setProblem("");
    setLink(null);
    try {
      const { exportLink } = await request(token, ExportLinkDocument, { dataset, format });
      if (!exportLink) throw new ApiError("No link was made.", "INTERNAL");
      setLink(exportLink);
      window.location.assign(exportLink.url);
    } catch (e) {
      setProblem(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <section className="panel export">
      <h2>Export</h2>
      <div className="actions">
        <select aria-label="What to export" value={dataset} onChange={(e) => setDataset(e.target.value as ExportDataset)}>
          <option value="TRANSACTIONS">History (every change of credits)</option>
          <option value="REDEMPTIONS">Redemptions</option>
        </select>
        <select aria-label="Format" value={format} onChange={(e) => setFormat(e.target.value as ExportFormat)}>
          <option value="CSV">CSV</option>
          <option value="XLSX">Excel (XLSX)</option>
        </select>
        <button onClick={make}>Download</button>
      </div>
      {link && (
        <p className="muted">
          If the download did not start:{" "}
          <a href={link.url} data-testid="export-link">
            download link
          </a>{" "}
          (valid until {instant(link.expiresAt)}).
        </p>
      )}
      {problem && <p className="problem">{problem}</p>}
    </section>
  );
}
