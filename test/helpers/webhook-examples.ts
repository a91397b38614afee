import { createRequire } from "node:module";

type Example = Record<string, unknown> & { action?: string };
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as {
  name: string;
  examples: Example[];
}[];

/** A real payload recorded from GitHub, deep-copied so tests can change it freely. */
export function webhookExample(event: string, action?: string, index = 0): Example {
  const group = examples.find((entry) => entry.name === event);
  const matching = (group?.examples ?? []).filter((example) => action === undefined || example.action === action);
  const example = matching[index];
  if (!example)
    throw new Error(`no @octokit/webhooks-examples payload for ${event}${action ? `.${action}` : ""} #${index}`);
  return structuredClone(example);
}
