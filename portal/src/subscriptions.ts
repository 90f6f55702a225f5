// The subscriptions the portal listens to. Empty until the contract has a Subscription
// type: the portal then polls.
export const LIVE_SUBSCRIPTIONS: string[] = [];
