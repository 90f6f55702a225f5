// Live updates: GraphQL subscriptions over graphql-transport-ws (the graphql-ws client),
// authorised by the token in `connection_init`. While the socket is not connected, or if
// the server refuses the subscriptions, the portal asks again every POLL_SECONDS instead
// (a proxy that does not pass WebSockets still gets a working, if slower, portal).
import { createClient } from "graphql-ws";
import { useEffect, useRef, useState } from "react";

import { API_PATH } from "./api";
import { LIVE_SUBSCRIPTIONS } from "./subscriptions";

export const POLL_SECONDS = 5;

/** "live": subscribed over a WebSocket; "polling": asking every POLL_SECONDS. */
export type LiveMode = "connecting" | "live" | "polling";

function socketUrl(): string {
  const url = new URL(API_PATH, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/** Calls `onChange` whenever the account's requests or balance may have changed. */
export function useLiveUpdates(token: string, accountId: string, onChange: () => void): LiveMode {
  const [mode, setMode] = useState<LiveMode>("connecting");
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    let timer: number | undefined;
    let refused = false;
    const startTimer = () => {
      if (timer === undefined) timer = window.setInterval(() => changed.current(), POLL_SECONDS * 1000);
    };
    const poll = () => {
      setMode("polling");
      startTimer();
    };
    const stopPolling = () => {
      window.clearInterval(timer);
      timer = undefined;
    };
    if (LIVE_SUBSCRIPTIONS.length === 0) {
      poll();
      return stopPolling;
    }

    const client = createClient({
      url: socketUrl(),
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => !refused,
      on: {
        connected: () => {
          if (refused) return;
          stopPolling();
          setMode("live");
          changed.current(); // whatever happened while the socket was down
        },
        closed: () => {
          if (!refused) poll();
        },
      },
    });
    const refuse = () => {
      refused = true;
      poll();
      void client.dispose();
    };
    const unsubscribes = LIVE_SUBSCRIPTIONS.map((query) =>
      client.subscribe(
        { query, variables: { accountId } },
        { next: () => changed.current(), error: refuse, complete: () => undefined },
      ),
    );
    // Ask on the timer until the socket is up; say so if that takes a while.
    startTimer();
    const fallback = window.setTimeout(() => {
      setMode((m) => (m === "connecting" ? "polling" : m));
    }, 3000);
    return () => {
      window.clearTimeout(fallback);
      stopPolling();
      unsubscribes.forEach((unsubscribe) => unsubscribe());
      void client.dispose();
    };
  }, [token, accountId]);

  return mode;
}
