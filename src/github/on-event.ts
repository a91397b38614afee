import type { EmitterWebhookEventName } from "@octokit/webhooks";
import type { Context, Probot } from "probot";

/**
 * Registers a handler whose `context.log` names the delivery, event and installation on every line,
 * so one delivery's story can be followed through the logs.
 */
export function onEvent<E extends EmitterWebhookEventName>(
  app: Probot,
  events: E | E[],
  handler: (context: Context<E>) => Promise<void>,
): void {
  app.on(events, async (context) => {
    const installation = (context.payload as { installation?: { id?: number } }).installation;
    context.log = context.log.child({
      deliveryId: context.id,
      event: context.name,
      installationId: installation?.id ?? null,
    });
    await handler(context as Context<E>);
  });
}
