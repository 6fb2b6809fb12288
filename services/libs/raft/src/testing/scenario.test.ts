import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseDataDriven, renderDataDriven } from "./data-driven.ts";
import { runScenarioCommand } from "./scenario-commands.ts";
import { ScenarioEnvironment } from "./scenario-environment.ts";

const TESTDATA = join(import.meta.dirname, "..", "..", "testdata");
/** REWRITE=1 regenerates the expected output from what the code does (review the diff before keeping it). */
const REWRITE = process.env.REWRITE === "1";

describe("raft scenarios", () => {
  for (const fileName of readdirSync(TESTDATA)
    .filter((name) => name.endsWith(".txt"))
    .sort()) {
    it(fileName, () => {
      const path = join(TESTDATA, fileName);
      const segments = parseDataDriven(readFileSync(path, "utf8"), fileName);
      const env = new ScenarioEnvironment();
      const outputs: string[] = [];
      for (const segment of segments) {
        if (segment.kind !== "case") continue;
        const { testCase } = segment;
        const output = runScenarioCommand(env, testCase);
        outputs.push(output);
        if (!REWRITE) {
          assert.equal(output, testCase.expected, `${fileName}:${testCase.line}: ${testCase.source[0]}`);
        }
      }
      if (REWRITE) writeFileSync(path, renderDataDriven(segments, outputs));
    });
  }
});
