/**
 * The webhook events Amistio acts on; app.yml subscribes to exactly these. Anything else that
 * arrives (an App's subscription can be widened in GitHub's UI) is acknowledged and ignored.
 */
export const HANDLED_EVENTS = [
  "installation",
  "installation_repositories",
  "issue_comment",
  "issues",
  "pull_request_review_comment",
  "workflow_run",
  "workflow_job",
  "check_run",
  "push",
] as const;

export type HandledEvent = (typeof HANDLED_EVENTS)[number];

const handled = new Set<string>(HANDLED_EVENTS);

export function isHandledEvent(name: string): name is HandledEvent {
  return handled.has(name);
}
