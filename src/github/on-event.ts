import type { EmitterWebhookEventName } from "@octokit/webhooks";
import type { Context, Probot } from "probot";
import { FIRST_TRY, type JobTry } from "../queue/job-queue.ts";

/**
 * The job try each delivery in hand is on, for the handlers Probot calls. The delivery job sets it
 * around `probot.receive` and `onEvent` hands it to the handler as its second argument, found by the
 * delivery id Probot's context carries: the attempt number and the waits travel with the job's
 * context, not in ambient state. One table per Probot app.
 */
export class DeliveryTries {
  private readonly tries = new Map<string, JobTry>();

  /** Runs `work` (the delivery's `probot.receive`) with `job` as the try of `deliveryId`. */
  async run<T>(deliveryId: string, job: JobTry, work: () => Promise<T>): Promise<T> {
    // Our own copy: the same delivery run twice at once in one process (a stalled BullMQ job run
    // again) must not clear the other's entry.
    const own: JobTry = { attempt: job.attempt, waits: job.waits };
    this.tries.set(deliveryId, own);
    try {
      return await work();
    } finally {
      if (this.tries.get(deliveryId) === own) this.tries.delete(deliveryId);
    }
  }

  /** A delivery handed to Probot outside a job (tests, `probot.receive` by hand) is on its first try. */
  of(deliveryId: string): JobTry {
    return this.tries.get(deliveryId) ?? FIRST_TRY;
  }
}

const tables = new WeakMap<Probot, DeliveryTries>();

/** The table of `app`; `probot.load` hands its app functions the Probot instance itself. */
export function deliveryTries(app: Probot): DeliveryTries {
  let table = tables.get(app);
  if (!table) {
    table = new DeliveryTries();
    tables.set(app, table);
  }
  return table;
}

/**
 * Registers a handler whose `context.log` names the delivery, event and installation on every line,
 * so one delivery's story can be followed through the logs. The handler gets the delivery job's try
 * (attempt, waits) as its second argument.
 */
export function onEvent<E extends EmitterWebhookEventName>(
  app: Probot,
  events: E | E[],
  handler: (context: Context<E>, job: JobTry) => Promise<void>,
): void {
  const tries = deliveryTries(app);
  app.on(events, async (context) => {
    const installation = (context.payload as { installation?: { id?: number } }).installation;
    context.log = context.log.child({
      deliveryId: context.id,
      event: context.name,
      installationId: installation?.id ?? null,
    });
    await handler(context as Context<E>, tries.of(context.id));
  });
}
