import { describe, expect, it } from "vitest";
import { findRelevantFiles, type TreeEntry } from "../../../src/planning/find-relevant-files.ts";

const entries: TreeEntry[] = [
  "README.md",
  "package.json",
  "package-lock.json",
  "src/index.ts",
  "src/commands/index.ts",
  "src/web/index.ts",
  "src/planning/index.ts",
  "src/commands/parse-commands.ts",
  "src/planning/render-plan-comment.ts",
  "src/planning/redact-secrets.ts",
  "test/unit/planning/redact-secrets.test.ts",
  "dist/redact-secrets.js",
].map((path, i) => ({ path, sha: `s${i}`, size: 10 }));

const named = (text: string) =>
  findRelevantFiles({ texts: [text], title: "", body: "", entries }).named.map((e) => e.path);

describe("findRelevantFiles: files the text names", () => {
  it.each([
    ["a full path", "Change src/commands/parse-commands.ts please", ["src/commands/parse-commands.ts"]],
    ["a ./ path in backticks", "see `./src/index.ts`.", ["src/index.ts"]],
    ["a path suffix", "in planning/redact-secrets.ts,", ["src/planning/redact-secrets.ts"]],
    ["a unique file name", "render-plan-comment.ts is wrong", ["src/planning/render-plan-comment.ts"]],
    [
      "a GitHub blob link",
      "https://github.com/acme/amistio/blob/main/src/commands/parse-commands.ts#L10-L20",
      ["src/commands/parse-commands.ts"],
    ],
    ["a name shared by too many files", "index.ts", []],
    ["an exact path among same-named files", "src/web/index.ts", ["src/web/index.ts"]],
    ["a path that does not exist", "src/nowhere.ts", []],
  ])("%s", (_name, text, expected) => {
    expect(named(text)).toEqual(expected);
  });
});

describe("findRelevantFiles: files matching the issue's terms", () => {
  it("ranks file-name matches first and skips generated files", () => {
    const { matched } = findRelevantFiles({
      texts: [],
      title: "Redact secrets in plan comments",
      body: "The redaction misses secrets.",
      entries,
    });
    const paths = matched.map((e) => e.path);
    expect(paths[0]).toBe("src/planning/redact-secrets.ts");
    expect(paths).toContain("test/unit/planning/redact-secrets.test.ts");
    expect(paths).not.toContain("dist/redact-secrets.js");
  });

  it("does not repeat named files and finds nothing in an empty tree", () => {
    const result = findRelevantFiles({
      texts: ["src/planning/redact-secrets.ts"],
      title: "redact secrets",
      body: "",
      entries,
    });
    expect(result.named.map((e) => e.path)).toEqual(["src/planning/redact-secrets.ts"]);
    expect(result.matched.map((e) => e.path)).not.toContain("src/planning/redact-secrets.ts");
    expect(findRelevantFiles({ texts: ["a.ts"], title: "a", body: "", entries: [] })).toEqual({
      named: [],
      matched: [],
    });
  });
});
