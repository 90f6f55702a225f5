import type { useCursorPages } from "../hooks";

interface Props {
  pages: ReturnType<typeof useCursorPages>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null } | undefined;
  label?: string;
}

/** "Newer" and "Older" over a connection read newest first with `first`/`after`. */
export function Pager({ pages, pageInfo, label = "" }: Props) {
  if (pages.page === 1 && !pageInfo?.hasNextPage) return null;
  const endCursor = pageInfo?.endCursor;
  return (
    <nav className="pager" aria-label={`${label} pages`.trim()}>
      <button className="quiet" disabled={pages.page === 1} onClick={pages.previous}>
        ← Newer
      </button>
      <span className="muted">page {pages.page}</span>
      <button
        className="quiet"
        disabled={!pageInfo?.hasNextPage || !endCursor}
        onClick={() => endCursor && pages.next(endCursor)}
      >
        Older →
      </button>
    </nav>
  );
}
