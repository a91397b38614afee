import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCommands } from "../../../src/commands/parse-commands.ts";
import {
  codeLine,
  REFUSALS,
  type Refusal,
  type RefusalCode,
  refusal,
  refusalComment,
  runnerApiError,
} from "../../../src/refusals/refusals.ts";

const CODES = Object.keys(REFUSALS) as RefusalCode[];
const render = refusal as (code: RefusalCode, params?: object) => Refusal;
const prefix = "/amistio";
const htmlUrl = "https://github.com/o/r/actions/runs/1";

/** One example per code: TypeScript refuses this table when a code is added without one. */
const SAMPLES: { [C in RefusalCode]: Parameters<(typeof REFUSALS)[C]["text"]>[0] } = {
  "command.bad_version": { token: "looks`good", prefix },
  "command.no_feedback": { prefix },
  "command.unknown": { word: "deploy", help: "| command | who | what it does |" },
  "command.permission": { login: "dave", command: "/amistio plan", minimum: "triage", permission: "read" },
  "command.ignored": { acting: "/amistio plan", ignored: ["/amistio approve"] },
  "settings.invalid": {
    file: ".github/amistio.yml",
    problems: [
      { path: "approvals.required", message: "must be at least 1" },
      { path: "", message: "is not valid YAML: bad indentation" },
    ],
  },
  "plan.no_plan_to_revise": { prefix },
  "plan.over_budget": { used: 1_234_567, limit: 1_000_000, resetsAt: new Date("2027-01-01T00:00:00Z"), prefix },
  "plan.invalid_output": { detail: "The AI model did not return a usable plan.", revising: false, prefix },
  "plan.refused": { detail: "The AI model declined to plan this issue.", revising: true, prefix },
  "plan.timeout": { detail: "The AI provider did not answer within 60 seconds.", revising: false, prefix },
  "plan.rate_limited": { detail: "The AI provider is rate-limiting Amistio.", revising: false, prefix },
  "plan.unauthorized": { detail: "The AI provider rejected Amistio's API key.", revising: false, prefix },
  "plan.rejected": { detail: "The AI provider refused the request (HTTP 400).", revising: false, prefix },
  "plan.unavailable": { detail: "Amistio could not reach the AI provider.", revising: false, prefix },
  "approval.no_plan": { prefix },
  "approval.stale_version": { named: 1, current: 2, prefix },
  "approval.unknown_version": { named: 9, current: 2, prefix },
  "approval.rejected": { version: 2, prefix },
  "approval.already_approved": { version: 2 },
  "approval.already_counted": { version: 2 },
  "approval.not_posted": { version: 2, prefix },
  "approval.comment_deleted": { version: 2, prefix },
  "approval.comment_changed": { version: 2, prefix },
  "approval.bot": {},
  "approval.permission": { minimum: "write", permission: "read" },
  "approval.self_approval": {},
  "approval.not_listed": { names: ["@carol", "@acme/leads"] },
  "approval.not_code_owner": { owners: ["@acme/core", "@erin"] },
  "reject.no_plan": {},
  "reject.not_awaiting": { version: 2, status: "awaiting_approval" },
  "retry.no_plan": { prefix },
  "retry.not_approved": { version: 2, status: "awaiting_approval", prefix },
  "retry.still_running": { version: 2, status: "in_progress", prefix },
  "cancel.not_allowed": { login: "dave", permission: "read" },
  "cancel.nothing_running": {},
  "cancel.github_conflict": { htmlUrl, message: "Cannot cancel a workflow run that is `completed`." },
  "cancel.github_forbidden": { status: 403 },
  "run.plan_not_approved": { version: 2, status: "superseded", prefix },
  "run.plan_changed": { version: 2, prefix },
  "run.hash_mismatch": { version: 2, prefix },
  "run.approvals_lapsed": { version: 2, have: 0, need: 1, prefix },
  "dispatch.no_public_url": { prefix },
  "dispatch.workflow_missing": { workflow: ".github/workflows/amistio.yml", branch: "main", prefix },
  "dispatch.forbidden": { status: 403, message: "Resource not accessible by integration", prefix },
  "dispatch.no_access": { status: 404, message: "Not Found", prefix },
  "dispatch.rejected": { message: 'Unexpected inputs provided: ["x"]\n```\n@someone', prefix },
  "dispatch.unavailable": { message: "Bad Gateway", attempts: 5, prefix },
  "run.queued_too_long": { minutes: 15, labels: ["self-hosted", "gpu"], htmlUrl, prefix },
  "run.ended_without_report": { conclusion: "failure", htmlUrl, prefix },
  "run.cancelled_before_report": { htmlUrl: null },
  "run.plan_hash_mismatch": { message: null, htmlUrl, outputTail: null, prefix },
  "run.agent_failed": { message: "exit code 2", htmlUrl, outputTail: "``` @team <img>", prefix },
  "run.agent_timeout": { message: null, htmlUrl: null, outputTail: "still thinking", prefix },
  "run.push_rejected": { message: "protected branch", htmlUrl, outputTail: null, prefix },
  "run.git_failed": { message: null, htmlUrl, outputTail: null, prefix },
  "run.setup_failed": { message: "could not clone", htmlUrl, outputTail: null, prefix },
  "run.pull_request_failed": { branch: "amistio/7-run", problem: "Validation Failed", htmlUrl, prefix },
  "delivery.failed": { deliveryId: "d-123" },
  "runner.unknown_run": {},
  "runner.no_token": {},
  "runner.invalid_token": { detail: "the token has expired: ask GitHub for a new one" },
  "runner.keys_unavailable": {},
  "runner.other_repository": {},
  "runner.other_workflow": {},
  "runner.other_run": {},
  "runner.other_attempt": {},
  "runner.run_ended": { status: "cancelled" },
  "runner.not_dispatched": {},
  "runner.bad_events": {},
  "runner.bad_result": {},
  "web.sign_in_required": { reason: "This page is only for signed-in people." },
  "web.sign_in_not_configured": { provider: "GitHub" },
  "web.sign_in_first": { provider: "Acme SSO" },
  "web.provider_unreachable": { provider: "GitHub" },
  "web.sign_in_state_mismatch": {},
  "web.sign_in_expired": {},
  "web.sign_in_cancelled": { provider: "GitHub", description: "The user has denied your application access." },
  "web.link_session_ended": {},
  "web.sign_in_not_confirmed": { provider: "Acme SSO", detail: "invalid_grant" },
  "web.identity_taken": { provider: "Acme SSO" },
  "web.github_account_taken": { otherSignIn: "Acme SSO" },
  "web.other_github_linked": {},
  "web.workspace_not_found": {},
  "web.access_unconfirmed": { noToken: true },
  "web.github_token_missing": {},
  "web.github_unreachable": {},
  "web.bad_page_link": { newest: "tasks" },
  "web.profile_invalid": { problems: ["the email address is not of the form name@example.org"] },
  "web.deletion_not_confirmed": {},
  "web.operators_only": {},
  "web.privacy_request_kind": {},
  "web.privacy_request_details": { max: 2000 },
  "web.privacy_status_missing": {},
  "web.privacy_note_too_long": { max: 500 },
  "web.privacy_request_not_found": {},
  "web.privacy_status_change": { from: "completed", to: "in_progress" },
};

describe("the refusal registry", () => {
  it("has every code documented in docs/refusals.md, and documents no code it lacks", () => {
    const docs = readFileSync(new URL("../../../docs/refusals.md", import.meta.url), "utf8");
    const documented = [...docs.matchAll(/^### `([a-z_]+\.[a-z_]+)`$/gm)].map((match) => match[1]);
    const missing = CODES.filter((code) => !documented.includes(code));
    const stale = documented.filter((code) => !CODES.includes(code as RefusalCode));
    expect({ missing, stale }, "codes missing from docs/refusals.md, and documented codes that do not exist").toEqual({
      missing: [],
      stale: [],
    });
    expect(new Set(documented).size, "each code documented once").toBe(documented.length);
  });

  it("names codes as area.reason", () => {
    expect(CODES.filter((code) => !/^[a-z]+\.[a-z_]+$/.test(code))).toEqual([]);
  });

  // Every code's text as people or runners see it, in one snapshot each.
  it.each(CODES)("%s", (code) => {
    const refused = render(code, SAMPLES[code]);
    expect(refused.code).toBe(code);
    const { surface } = REFUSALS[code];
    const shown =
      surface === "runner_api"
        ? runnerApiError(refused)
        : surface === "web"
          ? { heading: refused.summary, text: refused.text }
          : {
              comment: refusalComment(refused),
              // The one line the tracking comment and the run's error show, where it differs.
              ...(refused.summary === refused.text ? {} : { summary: refused.summary }),
            };
    expect(shown).toMatchSnapshot();
  });

  it("shows the code with every comment, and no comment reads as a command", () => {
    for (const code of CODES.filter((code) => REFUSALS[code].surface !== "web")) {
      const comment = refusalComment(render(code, SAMPLES[code]));
      expect(comment.endsWith(codeLine(code)), code).toBe(true);
      expect(parseCommands(comment), code).toEqual([]);
    }
  });

  it("keeps untrusted text inside code spans and fenced blocks", () => {
    const rejected = refusalComment(render("dispatch.rejected", SAMPLES["dispatch.rejected"]));
    expect(rejected).toContain('````text\nUnexpected inputs provided: ["x"]\n```\n@someone\n````');
    const failed = refusalComment(render("run.agent_failed", SAMPLES["run.agent_failed"]));
    expect(failed).toContain("````text\n``` @team <img>\n````");
  });
});
