import { type FormEvent, useState } from "react";

export function SignIn({ onSignIn, notice }: { onSignIn: (token: string) => void; notice: string }) {
  const [value, setValue] = useState("");

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const token = value.trim().replace(/^Bearer\s+/i, "");
    if (token) onSignIn(token);
  };

  return (
    <main className="narrow">
      <h1>Training Credits</h1>
      <p>The owner portal. Sign in with a development token:</p>
      <pre className="command">credits token --email you@example.com --name "Your Name"</pre>
      <form onSubmit={submit} className="sign-in">
        <label htmlFor="token">Token</label>
        <textarea
          id="token"
          rows={4}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          placeholder="eyJhbGciOi…"
          spellCheck={false}
        />
        <button type="submit" disabled={!value.trim()}>
          Sign in
        </button>
      </form>
      {notice && <p className="problem">{notice}</p>}
    </main>
  );
}
