// Import boundaries of src/ and packages/, checked by `npm run check` (dependency-cruiser). The table
// below is the one place the allowed directions live for src/; docs/architecture.md and each folder's
// README.md say the same in words. A folder may import itself and the folders listed for it, nothing
// else in src/. The wiring files (src/index.ts, src/main.ts) may import anything and nothing imports
// them. The packages have a table of their own below.
/** @type {Record<string, string[]>} */
const MAY_IMPORT = {
  // Leaves.
  db: [],
  // The metric definitions (one registry per process, built in index.ts): importable by every layer that records.
  metrics: [],
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
  indexing: ["planning", "tasks", "audit", "github", "queue", "config", "db"],
  planning: ["indexing", "tasks", "approvals", "audit", "github", "queue", "metrics", "refusals", "config", "db"],
  runs: ["tasks", "approvals", "audit", "github", "queue", "refusals", "config", "db"],
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
    "metrics",
    "refusals",
    "config",
    "db",
  ],
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
    pathNot: `^src/(${[folder, ...MAY_IMPORT[folder]].join("|")})/`,
  },
}));

// The workspaces under packages/, each installed apart from the server: the contract is shared by the
// server and the runner and reaches nothing; the runner runs on users' machines and reaches only it.
const PACKAGE_MAY_IMPORT = { contract: [], runner: ["contract"] };

const packageRules = Object.entries(PACKAGE_MAY_IMPORT).map(([name, allowed]) => ({
  name: `${name}-package-imports`,
  severity: "error",
  comment: `packages/${name}/ may import ${allowed.map((other) => `packages/${other}/`).join(", ") || "nothing else in the repository"} (.dependency-cruiser.cjs)`,
  from: { path: `^packages/${name}/` },
  to: { path: `^(src|packages/(?!(${[name, ...allowed].join("|")})/))` },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Modules must not import each other in a circle, type-only imports included.",
      from: { path: "^(src|packages)/" },
      to: { circular: true },
    },
    ...layerRules,
    ...packageRules,
    {
      name: "server-not-runner",
      severity: "error",
      comment: "The server may use the contract package but not the runner's code.",
      from: { path: "^src/" },
      to: { path: "^packages/runner/" },
    },
    {
      name: "package-dependencies",
      severity: "error",
      comment: "A package imports only npm packages its own package.json lists as dependencies: it is installed alone.",
      from: { path: "^packages/" },
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown", "npm-dev", "npm-optional", "npm-peer"] },
    },
    {
      name: "one-door-to-intake-tables",
      severity: "error",
      comment:
        "Webhook intake and the embedded queue reach their tables through db/delivery-job-store.ts; its raw-SQL connection (the SQLite hot-path thread) is db's own.",
      from: { path: "^src/", pathNot: "^src/db/" },
      to: { path: "^src/db/(hot-path-sql|sqlite-hot-path|immediate-transactions)\\.ts$" },
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
