import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DataDrivenParseError, parseArguments, parseDataDriven, renderDataDriven } from "./data-driven.ts";

const SOURCE = `# a comment
add-nodes 3 voters=(1,2,3) index=2
----
ok

partition (1, 2) (3)
extra input
----
----
first

second
----
----

# trailing comment
`;

describe("data-driven files", () => {
  it("parses commands, arguments, input and both output forms", () => {
    const segments = parseDataDriven(SOURCE, "test.txt");
    const cases = segments.flatMap((segment) => (segment.kind === "case" ? [segment.testCase] : []));
    assert.equal(cases.length, 2);
    assert.equal(cases[0]!.command, "add-nodes");
    assert.deepEqual(cases[0]!.arguments, [
      { key: "3", values: [] },
      { key: "voters", values: ["1", "2", "3"] },
      { key: "index", values: ["2"] },
    ]);
    assert.equal(cases[0]!.expected, "ok");
    assert.equal(cases[0]!.line, 2);
    assert.deepEqual(cases[1]!.arguments, [
      { key: "", values: ["1", "2"] },
      { key: "", values: ["3"] },
    ]);
    assert.deepEqual(cases[1]!.input, ["extra input"]);
    assert.equal(cases[1]!.expected, "first\n\nsecond");
  });

  it("renders back what it parsed", () => {
    const segments = parseDataDriven(SOURCE, "test.txt");
    assert.equal(renderDataDriven(segments, ["ok", "first\n\nsecond"]), SOURCE);
  });

  it("switches to the double separator when output gains a blank line", () => {
    const segments = parseDataDriven("cmd\n----\nok\n", "test.txt");
    assert.equal(renderDataDriven(segments, ["a\n\nb"]), "cmd\n----\n----\na\n\nb\n----\n----\n");
  });

  it("reports malformed files with their line", () => {
    assert.throws(() => parseDataDriven("cmd\n", "bad.txt"), DataDrivenParseError);
    assert.throws(() => parseDataDriven("cmd\n----\n----\nnever closed\n", "bad.txt"), /bad.txt:3/);
  });

  it("parses bare words and key=value pairs", () => {
    assert.deepEqual(parseArguments(["propose", "foo", "drop=(3)", "empty=()"]), [
      { key: "propose", values: [] },
      { key: "foo", values: [] },
      { key: "drop", values: ["3"] },
      { key: "empty", values: [] },
    ]);
  });
});
