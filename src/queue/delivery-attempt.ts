import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Which try of a delivery's job is running, visible to the handlers Probot calls. A handler that
 * posts to GitHub checks for its own earlier post only on a retry, so the common path costs nothing.
 */
export const deliveryAttempt = new AsyncLocalStorage<number>();

export function isRetry(): boolean {
  return (deliveryAttempt.getStore() ?? 1) > 1;
}
