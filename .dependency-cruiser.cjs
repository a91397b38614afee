// Import boundaries of src/, checked by `npm run check` (dependency-cruiser). The table below is the
// one place the allowed directions live; docs/architecture.md and each folder's README.md say the same
// in words. A folder may import itself and the folders listed for it, nothing else in src/. The
// wiring files (src/index.ts, src/main.ts) may import anything and nothing imports them.
/** @type {Record<string, string[]>} */
const MAY_IMPORT = {
  // Leaves.
  db: [],
  // The metric definitions (one registry per process, built in index.ts): importable by every layer that records.
  metrics: [],
  // What the server and `amistio-runner` share (plan schema and hash, redaction, runner API).
  contract: [],
  // Every coded refusal and failure people and runners see, with its text: importable by every layer that refuses.
  refusals: [],
  config: ["db"],
  // Infrastructure.
  queue: ["metrics", "config", "db"],
  audit: ["config", "db"],
  github: ["queue", "metrics", "config", "db"],
  // Domain.
  approvals: ["github", "refusals", "config", "db"],
  tasks: ["approvals", "github", "queue", "refusals", "config", "db"],
  // indexing and planning import each other: the repository index is planning's input and is
  // still being built out; they are one layer until it settles.
  indexing: ["planning", "contract", "tasks", "audit", "github", "queue", "config", "db"],
  planning: [
    "indexing",
    "contract",
    "tasks",
    "approvals",
    "audit",
    "github",
    "queue",
    "metrics",
    "refusals",
    "config",
    "db",
  ],
  runs: ["contract", "tasks", "approvals", "audit", "github", "queue", "refusals", "config", "db"],
  privacy: ["audit", "config", "db"],
  auth: ["privacy", "audit", "config", "db"],
  // Installations, their repositories, and internal users for GitHub accounts.
  workspaces: ["indexing", "audit", "github", "queue", "config", "db"],
  // Edges: what GitHub, people and runners reach.
  webhooks: ["tasks", "audit", "github", "queue", "metrics", "config", "db"],
  commands: [
    "runs",
    "planning",
    "approvals",
    "tasks",
    "workspaces",
    "audit",
    "github",
    "queue",
    "contract",
    "metrics",
    "refusals",
    "config",
    "db",
  ],
  web: [
    "webhooks",
    "runs",
    "planning",
    "auth",
    "privacy",
    "tasks",
    "audit",
    "queue",
    "contract",
    "metrics",
    "refusals",
    "config",
    "db",
  ],
  // The CLI that runs on users' machines: the shared contract only.
  runner: ["contract"],
  // Process start: Node check, setup mode, the logger.
  startup: ["config"],
};

const folders = Object.keys(MAY_IMPORT);

const layerRules = folders.map((folder) => ({
  name: `${folder}-imports`,
  severity: "error",
  comment: `src/${folder}/ may import only ${MAY_IMPORT[folder].join(", ") || "nothing else in src/"} (.dependency-cruiser.cjs)`,
  from: { path: `^src/${folder}/` },
  to: {
    path: "^src/",
    pathNot: [
      `^src/(${[folder, ...MAY_IMPORT[folder]].join("|")})/`,
      // The runner contract names the agents the settings allow (a type, gone at run time).
      ...(folder === "contract" ? ["^src/config/repo-settings\\.ts$"] : []),
    ],
  },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Modules must not import each other in a circle, type-only imports included.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "contract-runtime",
      severity: "error",
      comment: "contract/ may name config's agent list as a type only: the runner must not load server code.",
      from: { path: "^src/contract/" },
      to: { path: "^src/config/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "folder-listed",
      severity: "error",
      comment: "Every src/ folder has a line in MAY_IMPORT (.dependency-cruiser.cjs), so its directions are decided.",
      from: { path: `^src/(?!(${folders.join("|")})/)[^/]+/` },
      to: {},
    },
    {
      name: "wiring-on-top",
      severity: "error",
      comment: "Only main.ts imports index.ts; no folder imports the wiring.",
      from: { path: "^src/[^/]+/" },
      to: { path: "^src/(index|main)\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/db/generated/" },
    // Type-only imports count: a cycle of types is still a cycle to a reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
