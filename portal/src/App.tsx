import { useCallback, useEffect, useState } from "react";

import { SignIn } from "./components/SignIn";
import { Dashboard } from "./components/Dashboard";
import { ViewerDocument } from "./generated/graphql";
import { useQuery } from "./hooks";

const TOKEN_KEY = "training-credits-token";

export function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY) ?? "");
  const [notice, setNotice] = useState("");

  const signIn = useCallback((pasted: string) => {
    sessionStorage.setItem(TOKEN_KEY, pasted);
    setNotice("");
    setToken(pasted);
  }, []);
  const signOut = useCallback((why = "") => {
    sessionStorage.removeItem(TOKEN_KEY);
    setNotice(why);
    setToken("");
  }, []);

  if (!token) return <SignIn onSignIn={signIn} notice={notice} />;
  return <SignedIn token={token} onSignOut={signOut} />;
}

function SignedIn({ token, onSignOut }: { token: string; onSignOut: (why?: string) => void }) {
  const viewer = useQuery(token, ViewerDocument, {}, 0);
  const refused = viewer.error?.code === "UNAUTHENTICATED" ? viewer.error.message : "";
  useEffect(() => {
    if (refused) onSignOut(`The token was refused: ${refused}`);
  }, [refused, onSignOut]);

  if (refused) return null;
  if (viewer.error) return <p className="problem">{viewer.error.message}</p>;
  if (!viewer.data) return <p className="loading">Signing in…</p>;

  const { user, account } = viewer.data.viewer;
  if (!account) {
    return (
      <main className="narrow">
        <h1>Training Credits</h1>
        <p>
          Signed in as {user.name} ({user.email}), who owns no account. An owner can add this
          email to theirs.
        </p>
        <button onClick={() => onSignOut()}>Sign out</button>
      </main>
    );
  }
  return <Dashboard token={token} user={user} account={account} onSignOut={() => onSignOut()} />;
}
