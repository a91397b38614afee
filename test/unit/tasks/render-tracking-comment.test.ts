import { describe, expect, it } from "vitest";
import { refusal } from "../../../src/refusals/refusals.ts";
import { renderTrackingComment, type TrackingView } from "../../../src/tasks/render-tracking-comment.ts";

const plan = { version: 2, shortHash: "986e566118a8", status: "awaiting_approval", source: "openai", posted: true };
const run = {
  status: "queued",
  conclusion: null,
  htmlUrl: null,
  runnerName: null,
  pullRequestUrl: null,
  error: null,
} satisfies TrackingView["run"];
const url = "https://github.com/octo-org/widgets/actions/runs/31";
const base: TrackingView = {
  taskId: "task1",
  state: "requested",
  requester: "alice",
  plan: null,
  approvals: { have: 0, need: 2, by: [] },
  run: null,
  problem: null,
};
const approved = { have: 2, need: 2, by: ["bob", "carol"] };
/** An approved version's task in `state`, its run with `fields`. */
const withRun = (
  state: string,
  fields: Partial<NonNullable<TrackingView["run"]>>,
  extra: Partial<TrackingView> = {},
): Partial<TrackingView> => ({
  state,
  plan: { ...plan, status: "approved" },
  approvals: approved,
  run: { ...run, ...fields },
  ...extra,
});
const onRunner = { htmlUrl: url, runnerName: "build-07" };

/** Every state the tracking comment shows, in the order a task goes through them, then the ends it can meet. */
const STATES: [string, Partial<TrackingView>][] = [
  ["requested", {}],
  ["planning", { state: "planning" }],
  [
    "planning failed",
    {
      problem: refusal("plan.timeout", {
        detail: "The AI provider did not answer within 60 seconds.",
        revising: false,
        prefix: "/amistio",
      }),
    },
  ],
  ["plan written, not posted yet", { state: "awaiting_approval", plan: { ...plan, posted: false } }],
  ["awaiting approval", { state: "awaiting_approval", plan, approvals: { have: 1, need: 2, by: ["bob"] } }],
  ["offline plan", { state: "awaiting_approval", plan: { ...plan, source: "offline" } }],
  ["rejected", { state: "rejected", plan: { ...plan, status: "rejected" } }],
  ["approved, run queued", withRun("approved", {})],
  ["dispatched", withRun("approved", { status: "dispatched", htmlUrl: url })],
  [
    "no runner yet",
    withRun(
      "approved",
      { status: "dispatched", htmlUrl: url },
      {
        problem: refusal("run.queued_too_long", {
          minutes: 15,
          labels: ["self-hosted", "gpu"],
          htmlUrl: url,
          prefix: "/amistio",
        }),
      },
    ),
  ],
  ["running", withRun("running", { status: "in_progress", ...onRunner })],
  [
    "done, pull request opened",
    withRun("done", {
      status: "completed",
      conclusion: "success",
      ...onRunner,
      pullRequestUrl: "https://github.com/octo-org/widgets/pull/9",
    }),
  ],
  ["done without changes", withRun("done", { status: "completed", conclusion: "success", ...onRunner })],
  [
    "failed",
    withRun("failed", { status: "failed", htmlUrl: url, error: "the agent exited with an error. `exit code 2`" }),
  ],
  ["cancelled", withRun("cancelled", { status: "cancelled", htmlUrl: url })],
  [
    "a delivery failed, after a rate limit",
    {
      state: "awaiting_approval",
      plan,
      problem: refusal("delivery.failed", { deliveryId: "0b7c4e2a" }),
      delayedUntil: new Date("2026-12-06T14:05:00Z"),
    },
  ],
];

describe("the tracking comment", () => {
  it.each(STATES)("%s", (_name, view) => {
    expect(renderTrackingComment({ ...base, ...view })).toMatchSnapshot();
  });

  it("names the code of the problem it shows", () => {
    const text = renderTrackingComment({ ...base, problem: refusal("delivery.failed", { deliveryId: "d1" }) });
    expect(text).toContain("and has stopped trying. Type the command again");
    expect(text).toContain("(`delivery.failed`)");
  });
});
