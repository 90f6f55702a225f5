const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" });
const timeFormat = new Intl.DateTimeFormat("en-GB", {
  dateStyle: "medium",
  timeStyle: "short",
  timeZone: "UTC",
});
const numberFormat = new Intl.NumberFormat("en-US");

export const credits = (n: number): string => numberFormat.format(n);

export const signedCredits = (n: number): string => (n > 0 ? "+" : "") + numberFormat.format(n);

export const day = (iso: string): string => dateFormat.format(new Date(iso));

export const instant = (iso: string): string => `${timeFormat.format(new Date(iso))} UTC`;

/** Whole days from now until `iso` (negative once past). */
export function daysUntil(iso: string, now: Date = new Date()): number {
  return Math.floor((new Date(iso).getTime() - now.getTime()) / 86_400_000);
}
