// The portal's end-to-end check, in headless Chromium driven by playwright-core:
// an owner signs in with a pasted token; a learner's redemption request, made through
// the API with the learner's token, appears without a reload; the owner approves it and
// the balance changes; a second one is denied; the history exports. tests/portal/
// prepares the server and the data and runs this script; it prints one JSON line with
// what it saw.
//
// Environment: PORTAL_BASE (the server), OWNER_TOKEN, LEARNER_TOKEN, REDEMPTION_CODE,
// COURSE_ID and SECOND_COURSE_ID (the first request is approved, the second denied),
// EXPECT_AVAILABLE (the balance before), SCREENSHOT (a PNG to write), EXPECT_LIVE=1 to
// require subscriptions (not polling), CHROMIUM (default /usr/bin/chromium).
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env("PORTAL_BASE");
const available = Number(env("EXPECT_AVAILABLE"));
const fmt = (n) => new Intl.NumberFormat("en-US").format(n);

// Debian's Chromium, as root, on a machine without outside network: these flags keep it
// from trying to reach Google's services at start-up.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function graphql(token, query, variables) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** The learner's checkout, through the API with the learner's own token: left PENDING. */
async function learnerRequests(courseId, key) {
  const { redeemCredits } = await graphql(
    env("LEARNER_TOKEN"),
    `mutation($input: RedeemCreditsInput!) {
       redeemCredits(input: $input) { redemption { id status credits } errors { code message } }
     }`,
    { input: { code: env("REDEMPTION_CODE"), courseId, idempotencyKey: `portal-e2e-${key}-${Date.now()}` } },
  );
  const redemption = redeemCredits.redemption;
  if (redeemCredits.errors.length || redemption?.status !== "PENDING") {
    throw new Error(`the learner's request was not left pending: ${JSON.stringify(redeemCredits)}`);
  }
  return redemption;
}

const profile = await mkdtemp(join(tmpdir(), "portal-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  args: FLAGS,
  viewport: { width: 1280, height: 960 },
  acceptDownloads: true,
});
const seen = {};
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on("pageerror", (error) => problems.push(String(error)));

  await page.goto(`${base}/portal/`);
  await page.getByLabel("Token").fill(env("OWNER_TOKEN"));
  await page.getByRole("button", { name: "Sign in" }).click();
  const availableCard = page.getByTestId("balance-available");
  await availableCard.filter({ hasText: fmt(available) }).waitFor();
  await page.getByTestId("pending-count").filter({ hasText: /^0$/ }).waitFor();

  // Live or polling, the portal has settled on one before the request is made.
  const mode = page.getByTestId("live-mode");
  await page.waitForFunction(
    () => document.querySelector('[data-testid="live-mode"]')?.getAttribute("data-mode") !== "connecting",
  );
  seen.mode = await mode.getAttribute("data-mode");
  if (process.env.EXPECT_LIVE === "1" && seen.mode !== "live") {
    throw new Error(`expected live subscriptions, the portal is ${seen.mode}`);
  }

  // From here on the page must not load again: the request has to arrive by itself.
  let loads = 0;
  page.on("load", () => loads++);

  const requested = Date.now();
  const redemption = await learnerRequests(env("COURSE_ID"), "first");
  const row = page.getByTestId("pending-row");
  await row.first().waitFor();
  seen.appearedAfterMs = Date.now() - requested;
  await page.getByTestId("balance-pending").filter({ hasText: fmt(redemption.credits) }).waitFor();
  await page.screenshot({ path: env("SCREENSHOT"), fullPage: true });
  seen.screenshotBytes = (await stat(env("SCREENSHOT"))).size;

  await row.first().getByRole("checkbox").check();
  await page.getByRole("button", { name: "Approve selected (1)" }).click();
  await page
    .getByTestId("decision-outcome")
    .filter({ hasText: `Approved 1 of 1 (${fmt(redemption.credits)} credits).` })
    .waitFor();
  await availableCard.filter({ hasText: fmt(available - redemption.credits) }).waitFor();
  await page.getByTestId("pending-count").filter({ hasText: /^0$/ }).waitFor();
  await page.getByTestId("balance-pending").filter({ hasText: /^0$/ }).waitFor();
  await page.locator('[data-testid="history-table"] tr[data-kind="REDEMPTION"]').first().waitFor();
  seen.balanceAfter = available - redemption.credits;

  // A second request, denied with a reason: the balance stays where it is.
  await learnerRequests(env("SECOND_COURSE_ID"), "second");
  await row.first().waitFor();
  await page.getByRole("checkbox", { name: "Select all" }).check();
  await page.getByLabel("Reason for denying").fill("Not in this quarter's plan");
  await page.getByRole("button", { name: "Deny selected" }).click();
  await page.getByTestId("decision-outcome").filter({ hasText: "Denied 1 of 1." }).waitFor();
  await page.getByTestId("pending-count").filter({ hasText: /^0$/ }).waitFor();
  await availableCard.filter({ hasText: fmt(seen.balanceAfter) }).waitFor();
  seen.denied = true;

  // The history, exported through a short-lived link from the exportLink query.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download" }).click(),
  ]);
  const csv = await readFile(await download.path(), "utf8");
  seen.exportFile = download.suggestedFilename();
  seen.exportLines = csv.trim().split("\n").length;
  if (!csv.includes("REDEMPTION")) throw new Error(`the export has no redemption:\n${csv}`);

  seen.reloads = loads;
  if (loads !== 0) throw new Error(`the page loaded ${loads} more time(s)`);
  if (problems.length) throw new Error(`errors in the page: ${problems.join("; ")}`);
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.stack ?? error), ...seen }));
  process.exitCode = 1;
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
}
