import { BalanceDocument } from "../generated/graphql";
import { credits, day } from "../format";
import { useQuery } from "../hooks";

export function BalancePanel({ token, refresh }: { token: string; refresh: number }) {
  const { data, error } = useQuery(token, BalanceDocument, {}, refresh);
  const balance = data?.balance;
  return (
    <section className="cards" aria-label="Balance">
      <Card label="Available" value={balance ? credits(balance.available) : "…"} testId="balance-available" big />
      <Card label="Pending approval" value={balance ? credits(balance.pending) : "…"} testId="balance-pending" />
      <Card
        label="Expiring within 90 days"
        value={balance ? credits(balance.expiringWithin90Days) : "…"}
        testId="balance-expiring"
      />
      <Card
        label="Next expiry"
        value={balance ? (balance.nextExpiry ? day(balance.nextExpiry) : "—") : "…"}
        testId="balance-next-expiry"
      />
      {error && <p className="problem">{error.message}</p>}
    </section>
  );
}

function Card({ label, value, testId, big }: { label: string; value: string; testId: string; big?: boolean }) {
  return (
    <div className={big ? "card card-big" : "card"}>
      <div className="card-label">{label}</div>
      <div className="card-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}
