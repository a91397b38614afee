export const RUN_STATUSES = [
  "queued",
  "dispatching",
  "dispatched",
  "waiting",
  "in_progress",
  "completed",
  "failed",
  "cancelled",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled"];
/** A run the runner may still talk to Amistio about. */
export const LIVE_STATUSES: readonly RunStatus[] = ["dispatched", "waiting", "in_progress"];
export const ACTIVE_STATUSES: readonly RunStatus[] = ["queued", "dispatching", ...LIVE_STATUSES];

// The three terminal states share the last rank: once a run ended, nothing moves it again.
const RANK: Record<RunStatus, number> = {
  queued: 0,
  dispatching: 1,
  dispatched: 2,
  waiting: 3,
  in_progress: 4,
  completed: 5,
  failed: 5,
  cancelled: 5,
};

export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/**
 * The statuses a run may be in for `next` to be a step forward. GitHub does not order its
 * deliveries, so an update is written only where it moves the run on (a conditional update).
 */
export function statusesBefore(next: RunStatus): RunStatus[] {
  return RUN_STATUSES.filter((status) => RANK[status] < RANK[next]);
}

/** The run status a finished workflow run's conclusion means. */
export function statusForConclusion(conclusion: string | null): RunStatus {
  if (conclusion === "success") return "completed";
  if (conclusion === "cancelled" || conclusion === "skipped") return "cancelled";
  return "failed";
}
