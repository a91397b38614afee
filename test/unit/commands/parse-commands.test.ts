import { describe, expect, it } from "vitest";
import { MAX_SCANNED_CHARS, parseCommands } from "../../../src/commands/parse-commands.ts";

/** The verb and args of each command found, in order: the compact shape most cases compare. */
const found = (body: string, prefix?: string) =>
  parseCommands(body, prefix === undefined ? {} : { prefix }).map((c) => `${c.verb}|${c.args}`);

describe("parseCommands: what counts as a command line", () => {
  it.each([
    ["plain command", "/amistio plan", ["plan|"]],
    ["with instructions", "/amistio plan keep the public API", ["plan|keep the public API"]],
    ["verb is case-insensitive", "/amistio PLAN", ["plan|"]],
    ["prefix is case-insensitive", "/Amistio Status", ["status|"]],
    ["up to three leading spaces", "   /amistio status", ["status|"]],
    ["extra spaces and tabs collapse", "/amistio   revise\t split   step 2  ", ["revise|split step 2"]],
    ["tab after the prefix", "/amistio\tstatus", ["status|"]],
    ["command after a paragraph line", "Thanks!\n/amistio approve", ["approve|"]],
    ["CRLF line endings", "hello\r\n/amistio retry\r\n", ["retry|"]],
    ["bare prefix means help", "/amistio", ["help|"]],
    ["unknown verb", "/amistio deploy now", ["unknown|now"]],
    ["every known verb", "/amistio reject too risky", ["reject|too risky"]],
    ["prefix glued to a word is not a command", "/amistiox plan", []],
    ["prefix followed by punctuation is not a command", "/amistio: plan", []],
    ["prefix mid-line is not a command", "please run /amistio plan", []],
    ["inline code is not a command", "`/amistio plan`", []],
    ["four spaces make indented code", "\n    /amistio plan", []],
    ["a tab makes indented code", "\n\t/amistio plan", []],
    ["block quote", "> /amistio approve", []],
    ["nested block quote", "> > /amistio approve", []],
    ["lazy continuation of a quote", "> I said\n/amistio approve", []],
    ["after a quote and a blank line", "> I said\n\n/amistio approve", ["approve|"]],
    ["backtick fence", "```\n/amistio approve\n```", []],
    ["tilde fence", "~~~sh\n/amistio approve\n~~~", []],
    ["shorter fence does not close a longer one", "````\n```\n/amistio approve\n````", []],
    ["longer fence closes", "```\ncode\n`````\n/amistio approve", ["approve|"]],
    ["tilde does not close a backtick fence", "```\n~~~\n/amistio approve\n```", []],
    ["unclosed fence runs to the end", "```\n/amistio approve", []],
    ["fence indented by up to three spaces", "   ```\n/amistio approve\n   ```\n/amistio status", ["status|"]],
    ["HTML comment", "<!--\n/amistio approve\n-->", []],
    ["list item", "- /amistio approve", []],
    ["command inside <details>", "<details>\n\n/amistio status\n\n</details>", ["status|"]],
    ["empty body", "", []],
  ])("%s", (_name, body, expected) => {
    expect(found(body)).toEqual(expected);
  });
});

describe("parseCommands: approve versions", () => {
  it.each([
    ["/amistio approve", { verb: "approve", version: undefined, problem: false }],
    ["/amistio approve v3", { verb: "approve", version: 3, problem: false }],
    ["/amistio approve V3", { verb: "approve", version: 3, problem: false }],
    ["/amistio approve v12 ship it", { verb: "approve", version: 12, problem: false }],
    ["/amistio approve vX", { verb: "approve", version: undefined, problem: true }],
    ["/amistio approve v0", { verb: "approve", version: undefined, problem: true }],
    ["/amistio approve v3.1", { verb: "approve", version: undefined, problem: true }],
    ["/amistio approve looks good", { verb: "approve", version: undefined, problem: true }],
  ])("%s", (body, expected) => {
    const [command] = parseCommands(body);
    expect({ verb: command?.verb, version: command?.version, problem: command?.problem !== undefined }).toEqual(
      expected,
    );
  });

  it("names the bad version and shows the right form", () => {
    const [command] = parseCommands("/amistio approve vX");
    expect(command?.problem?.code).toBe("command.bad_version");
    expect(command?.problem?.text).toContain("`vX` is not a plan version");
    expect(command?.problem?.text).toContain("`/amistio approve v3`");
  });

  it("cannot be broken out of its code span by backticks in the input", () => {
    const [command] = parseCommands("/amistio approve v`@everyone`");
    expect(command?.problem?.text).toMatch(/^`v@everyone` is not/);
  });
});

describe("parseCommands: several commands in one comment", () => {
  it("returns all of them in order, and only the first acts", () => {
    const commands = parseCommands("/amistio approve v2\nsome text\n/amistio cancel\n\n/amistio status");
    expect(commands.map((c) => [c.verb, c.line, c.acts])).toEqual([
      ["approve", 1, true],
      ["cancel", 3, false],
      ["status", 5, false],
    ]);
  });

  it("a quoted command before a real one does not take the acting slot", () => {
    const commands = parseCommands("> /amistio approve\n\n/amistio reject not yet");
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ verb: "reject", args: "not yet", acts: true, line: 3 });
  });
});

describe("parseCommands: details", () => {
  it("keeps the raw line and the typed verb", () => {
    expect(parseCommands("  /Amistio  FROB   x")[0]).toEqual({
      verb: "unknown",
      word: "frob",
      args: "x",
      raw: "/Amistio  FROB   x",
      line: 1,
      acts: true,
    });
  });

  it("revise without feedback is a problem", () => {
    expect(parseCommands("/amistio revise")[0]?.problem).toMatchObject({ code: "command.no_feedback" });
    expect(parseCommands("/amistio revise")[0]?.problem?.text).toContain("needs feedback");
    expect(parseCommands("/amistio revise smaller steps")[0]?.problem).toBeUndefined();
  });

  it("uses a configured prefix, and then ignores the default one", () => {
    expect(found("/bot plan\n\n/amistio status", "/bot")).toEqual(["plan|"]);
  });

  it("only scans the first 65,536 characters", () => {
    const padding = "x".repeat(MAX_SCANNED_CHARS - 20);
    expect(found(`${padding}\n/amistio plan`)).toEqual(["plan|"]);
    expect(found(`${padding}${"y".repeat(40)}\n/amistio plan`)).toEqual([]);
  });

  it("copes with a huge body quickly enough to run inline", () => {
    const body = `/amistio plan\n${"[*a ".repeat(300_000)}`;
    expect(found(body)).toEqual(["plan|"]);
  });
});
