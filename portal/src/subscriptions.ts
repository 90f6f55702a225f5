// The subscriptions the portal listens to; any event makes every panel read again (the
// events name what changed, the panels' queries know what to show).
import {
  BalanceChangedDocument,
  RedemptionDecidedDocument,
  RedemptionRequestedDocument,
} from "./generated/graphql";

export const LIVE_SUBSCRIPTIONS: string[] = [
  RedemptionRequestedDocument,
  RedemptionDecidedDocument,
  BalanceChangedDocument,
].map((document) => document.toString());
