import { describe, expect, it } from "vitest";
import { globToRegExp, PathExclusions } from "../../../src/indexing/path-exclusions.ts";

describe("PathExclusions", () => {
  it("reads linguist-generated, linguist-vendored and binary from root and nested .gitattributes", () => {
    const exclusions = new PathExclusions([
      {
        path: ".gitattributes",
        text: "# comment\n*.pb.ts linguist-generated=true\nsrc/gen/** linguist-generated\nlegacy/ linguist-vendored\n*.dat binary\n*.svg -text\nvendor/keep.js -linguist-vendored\n",
      },
      { path: "packages/a/.gitattributes", text: "/schema.ts linguist-generated\n" },
    ]);
    expect(exclusions.exclusion("api/v1/user.pb.ts")).toBe("generated");
    expect(exclusions.exclusion("src/gen/deep/x.ts")).toBe("generated");
    expect(exclusions.exclusion("src/general.ts")).toBeUndefined();
    expect(exclusions.exclusion("legacy/old.js")).toBe("vendored");
    expect(exclusions.exclusion("data/x.dat")).toBe("binary");
    expect(exclusions.exclusion("logo.svg")).toBe("binary");
    expect(exclusions.exclusion("packages/a/schema.ts")).toBe("generated");
    expect(exclusions.exclusion("packages/b/schema.ts")).toBeUndefined();
    // Turned off explicitly: kept, though the path alone would say vendored.
    expect(exclusions.exclusion("vendor/keep.js")).toBeUndefined();
    expect(exclusions.exclusion("vendor/other.js")).toBe("vendored");
    expect(exclusions.exclusion("package-lock.json")).toBe("generated");
    expect(exclusions.exclusion("src/index.ts")).toBeUndefined();
  });

  it("turns gitignore-style patterns into anchored expressions", () => {
    expect(globToRegExp("*.js").test("a/b/c.js")).toBe(true);
    expect(globToRegExp("/*.js").test("a/c.js")).toBe(false);
    expect(globToRegExp("docs/*.md").test("docs/a.md")).toBe(true);
    expect(globToRegExp("docs/*.md").test("x/docs/a.md")).toBe(false);
    expect(globToRegExp("**/fixtures/**").test("test/fixtures/a/b.json")).toBe(true);
    expect(globToRegExp("file?.[ch]").test("src/file1.c")).toBe(true);
    expect(globToRegExp("a+b.(x)").test("a+b.(x)")).toBe(true);
  });
});
