import { countTokens } from "../src/planning/fit-to-budget.ts";
import { commentPayload, serveFakeGithub } from "../test/helpers/fake-github.ts";
import { webhookExample } from "../test/helpers/webhook-examples.ts";
import { startFakeOpenAi } from "../test/integration/planning/helpers/fake-openai-server.ts";
import { startBenchAmistio } from "./start-bench-amistio.ts";

const TASKS = Number(process.env.BENCH_TASKS ?? 200);
const FILES = 2_500;
const BUDGET = 12_000; // the default planner.contextTokens

const files: Record<string, string> = { "README.md": `# Widgets\n\n${"A service that stores widgets. ".repeat(80)}\n` };
for (let i = 0; i < FILES; i++) {
  files[`src/module-${i % 50}/widget-${i}.ts`] =
    `export function widget${i}(input: number): number {\n  return input * ${i};\n}\n${"// filler line for size\n".repeat(40)}`;
}
const issues: Record<number, { title: string; body: string; author: string }> = {};
for (let n = 1; n <= TASKS; n++) {
  issues[n] = {
    title: `Make widget ${n} faster`,
    body: `widget-${n} in src/module-${n % 50}/widget-${n}.ts is slow.\n\n- [ ] profile it\n- [ ] cache results\n- [ ] add a test\n\n${"Some more context about the problem. ".repeat(30)}`,
    author: "alice",
  };
}

const plan = JSON.stringify({
  summary: "Cache the widget's results.",
  steps: [{ title: "Add a cache", details: "Memoise by input.", files: ["src/module-1/widget-1.ts"] }],
  risks: [],
  tests: ["cache hit"],
  questions: [],
});
const ai = await startFakeOpenAi(Array.from({ length: TASKS }, () => ({ content: plan })));
const github = await serveFakeGithub({ roles: { alice: "write" }, files, issues });
const bench = await startBenchAmistio({
  githubHost: github.host,
  env: { OPENAI_API_KEY: "bench", OPENAI_BASE_URL: ai.baseURL, OPENAI_MODEL: "bench-model" },
});

const planned = new Map<number, () => void>();
github.state.onComment = (comment) => {
  if (comment.body.includes("<!-- amistio:plan")) planned.get(comment.issue)?.();
};

// What a plan reads to know the issue and the repository's files, as against the command's own
// requests (permission, settings, reaction, tracking and plan comments).
const PLANNING_READS =
  /^GET \/repos\/[^/]+\/[^/]+(\/(issues\/\d+(\/comments)?|branches\/.*|tarball\/.*|git\/.*|readme.*))?(\?.*)?$|^GET \/_codeload\//;
const example = webhookExample("issue_comment", "created");
const times: number[] = [];
const requestsPerPlan: number[] = [];
const readsPerPlan: number[] = [];
try {
  for (let n = 1; n <= TASKS; n++) {
    const payload = commentPayload(example, github, { issue: n, author: "alice", body: "/amistio plan" });
    const done = new Promise<void>((resolve) => planned.set(n, resolve));
    const before = github.state.requests.length;
    const started = performance.now();
    await bench.comment(payload);
    await done;
    times.push(performance.now() - started);
    const made = github.state.requests.slice(before);
    requestsPerPlan.push(made.length);
    readsPerPlan.push(made.filter((request) => PLANNING_READS.test(request)).length);
    if (n === 1)
      console.log(
        `first plan (repository index built from the archive): ${times[0]!.toFixed(0)} ms, requests: ${made.join(", ")}`,
      );
  }
  // Everything sent: the instructions and the user message with the issue's context.
  const tokens = ai.received.map((request) => countTokens(request.body.messages.map((m) => m.content).join("\n")));
  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    return { median: at(0.5), p95: at(0.95), max: sorted.at(-1)! };
  };
  // The first plan builds the repository index; the rest find it current (the steady state).
  const t = stats(times.slice(1));
  const k = stats(tokens);
  console.log(`\n${TASKS} tasks, repository of ${Object.keys(files).length} files, AI endpoint answering at once\n`);
  console.log(
    `comment → plan comment, index current: median ${t.median.toFixed(1)} ms, p95 ${t.p95.toFixed(1)} ms, max ${t.max.toFixed(1)} ms (target: median <= 150 ms)`,
  );
  console.log(
    `tokens sent per plan (whole request, o200k): median ${k.median}, p95 ${k.p95}, max ${k.max} (budget ${BUDGET}; over budget: ${tokens.filter((n) => n > BUDGET).length})`,
  );
  const steady = (values: number[]) => stats(values.slice(1));
  const r = steady(requestsPerPlan);
  const p = steady(readsPerPlan);
  console.log(
    `GitHub requests per plan, index current: median ${r.median}, max ${r.max} in all; of them reads for the plan's context (issue, comments, branch head, files): median ${p.median}, max ${p.max} (target: <= 5)`,
  );
} finally {
  await bench.stop();
  await github.close();
  await ai.close();
}
