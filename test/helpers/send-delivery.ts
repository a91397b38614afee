import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";

export interface SendDeliveryOptions {
  /** The full webhook URL. */
  url: string;
  secret: string;
  event: string;
  payload: unknown;
  id?: string;
  headers?: Record<string, string>;
}

/** POSTs a webhook delivery signed the way GitHub signs it. */
export async function sendDelivery(options: SendDeliveryOptions): Promise<Response> {
  const body = JSON.stringify(options.payload);
  return fetch(options.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": options.event,
      "x-github-delivery": options.id ?? randomUUID(),
      "x-hub-signature-256": await sign(options.secret, body),
      ...options.headers,
    },
    body,
  });
}
