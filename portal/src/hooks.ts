import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, request } from "./api";
import type { TypedDocumentString } from "./generated/graphql";

export interface QueryState<TResult> {
  data: TResult | undefined;
  error: ApiError | undefined;
  loading: boolean;
}

/**
 * Runs `document` whenever its variables or `refresh` change. The last answer stays on
 * screen while the next one loads, so a live refresh never blanks a panel; an answer
 * that arrives after a newer request started is dropped.
 */
export function useQuery<TResult, TVariables>(
  token: string,
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  refresh: number,
): QueryState<TResult> {
  const [state, setState] = useState<QueryState<TResult>>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const key = JSON.stringify(variables);
  const latest = useRef(0);

  useEffect(() => {
    const call = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    request(token, document, JSON.parse(key) as TVariables).then(
      (data) => call === latest.current && setState({ data, error: undefined, loading: false }),
      (error: unknown) =>
        call === latest.current &&
        setState((s) => ({
          ...s,
          error: error instanceof ApiError ? error : new ApiError(String(error), "INTERNAL"),
          loading: false,
        })),
    );
  }, [token, document, key, refresh]);

  return state;
}

/**
 * Relay forward paging with `first`/`after`: the cursors of the pages already passed are
 * kept, so "Newer" goes back without asking the server for backward paging.
 */
export function useCursorPages(resetKey: unknown) {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  useEffect(() => setStack([null]), [resetKey]);
  const after = stack[stack.length - 1];
  const next = useCallback((endCursor: string) => setStack((s) => [...s, endCursor]), []);
  const previous = useCallback(() => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)), []);
  return { after, page: stack.length, next, previous };
}
