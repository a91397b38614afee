import { describe, expect, it } from "vitest";
import {
  bm25Baseline,
  codeTokens,
  companionTest,
  cutAtBoundary,
  findPathMentions,
  issueSignals,
  rankFiles,
  resolveImports,
} from "../../../src/planning/rank-files.ts";

const files = [
  {
    path: "lib/adapters/http.js",
    text: "const settle = require('../core/settle');\nfunction httpAdapter(config) {\n  if (config.timeoutErrorMessage) reject(new Error(config.timeoutErrorMessage));\n}\nmodule.exports = httpAdapter;\n",
  },
  {
    path: "lib/core/settle.js",
    text: "module.exports = function settle(resolve, reject, response) { resolve(response); };\n",
  },
  {
    path: "lib/helpers/buildURL.js",
    text: "module.exports = function buildURL(url, params, paramsSerializer) { return url; };\n",
  },
  {
    path: "test/specs/timeout.spec.js",
    text: "it('timeoutErrorMessage', () => { axios.get('/', { timeoutErrorMessage: 'oops' }); });\n",
  },
  {
    path: "docs/timeouts.md",
    text: "# timeoutErrorMessage\nThe timeoutErrorMessage option sets the message of a timeout error.\n",
  },
  { path: "logo.png", text: null },
];

describe("codeTokens", () => {
  it("splits camelCase, snake_case, kebab-case and dotted names and keeps them whole", () => {
    const tokens = codeTokens("timeoutErrorMessage parse_protocol read-file lib.adapters");
    expect(tokens).toEqual(
      expect.arrayContaining([
        "timeouterrormessage",
        "timeout",
        "error",
        "message",
        "parse_protocol",
        "parse",
        "protocol",
        "read-file",
        "read",
        "file",
        "lib.adapters",
        "adapters",
      ]),
    );
  });
});

describe("findPathMentions", () => {
  it("reads paths, path:line:col, stack frames, blob links and installed-package frames", () => {
    const text = [
      "see lib/route.js:175:22 and `./src/index.ts`",
      "    at dispatchHttpRequest (.../node_modules/axios/lib/adapters/http.js:84:37)",
      "https://github.com/acme/w/blob/0a1b2c/src/plugin/objectSupport/index.js#L4",
      "https://codesandbox.io/s/festive-glitter", // not a file
      "../../etc/passwd", // climbs out: ignored
    ].join("\n");
    expect(findPathMentions(text)).toEqual(
      expect.arrayContaining([
        "lib/route.js",
        "src/index.ts",
        "lib/adapters/http.js",
        "src/plugin/objectSupport/index.js",
      ]),
    );
    expect(findPathMentions(text).some((path) => path.includes(".."))).toBe(false);
  });
});

describe("issueSignals", () => {
  it("drops template headings, checkboxes, URLs, versions and environment sections", () => {
    const { terms } = issueSignals({
      title: "Parsing fails",
      body: "**Describe the bug**\nThe `parseZone` call fails.\n- [ ] I searched https://example.com/somewhere\n\n#### Environment\n - Chromium Version 123.4\n - Webkit os\n",
    });
    expect(terms.has("parsezone")).toBe(true);
    expect(terms.has("chromium")).toBe(false);
    expect(terms.has("searched")).toBe(false);
    expect(terms.has("describe")).toBe(false);
  });

  it("bounds a 1 MB body", () => {
    const started = performance.now();
    issueSignals({ title: "x", body: "word ".repeat(200_000) });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("rankFiles", () => {
  it("ranks by content and prefers source to tests and docs", () => {
    const ranked = rankFiles(
      { title: "timeoutErrorMessage is ignored on Node", body: "The `timeoutErrorMessage` option does nothing." },
      files,
    );
    expect(ranked[0]?.path).toBe("lib/adapters/http.js");
    const paths = ranked.map((r) => r.path);
    expect(paths.indexOf("test/specs/timeout.spec.js")).toBeGreaterThan(0);
  });

  it("puts a file named by a stack frame first, and gives its import a neighbour's share", () => {
    const ranked = rankFiles(
      { title: "crash", body: "TypeError\n    at x (node_modules/axios/lib/adapters/http.js:84:37)" },
      files,
    );
    expect(ranked[0]).toMatchObject({ path: "lib/adapters/http.js", reason: "named" });
    expect(ranked.find((r) => r.path === "lib/core/settle.js")?.reason).toBe("neighbour");
  });

  it("returns nothing for an empty tree and survives an issue in another language", () => {
    expect(rankFiles({ title: "a", body: "b" }, [])).toEqual([]);
    expect(() => rankFiles({ title: "解析エラー", body: "Пример: буфер" }, files)).not.toThrow();
  });
});

describe("helpers", () => {
  it("resolves relative imports and never climbs out of the repository", () => {
    expect(resolveImports("lib/adapters/http.js", "require('../core/settle')")).toContain("lib/core/settle.js");
    expect(resolveImports("a.js", "import x from '../../outside.js'")).toEqual([]);
  });

  it("finds a source file's test", () => {
    expect(companionTest("src/plugin/utc/index.js", ["src/plugin/utc/index.js", "test/plugin/utc.test.js"])).toBe(
      "test/plugin/utc.test.js",
    );
    expect(companionTest("lib/response.js", ["lib/response.js", "test/response.test.js"])).toBe(
      "test/response.test.js",
    );
  });

  it("cuts at a top-level boundary", () => {
    const text = "function a() {\n  return 1;\n}\n\nfunction b() {\n  return 2;\n}\n";
    expect(cutAtBoundary(text, 40)).toBe("function a() {\n  return 1;\n}");
    expect(cutAtBoundary(text, 1000)).toBe(text);
  });

  it("BM25 baseline ranks by plain terms", () => {
    expect(bm25Baseline({ title: "buildURL paramsSerializer", body: "" }, files, 1)).toEqual([
      "lib/helpers/buildURL.js",
    ]);
  });
});
