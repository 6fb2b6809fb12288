/**
 * YAML for the deployment tests. Anchors and merge keys (`<<: *tessera`) are resolved, as docker-compose
 * and kubectl resolve them.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

export function parseYamlDocuments(text: string, source: string): unknown[] {
  const documents = parseAllDocuments(text, { merge: true });
  const parsed: unknown[] = [];
  for (const document of documents) {
    if (document.errors.length > 0) {
      throw new Error(
        `${source} is not valid YAML:\n${document.errors.map((error) => error.message).join("\n")}`,
      );
    }
    const value: unknown = document.toJS();
    if (value !== null && value !== undefined) parsed.push(value);
  }
  return parsed;
}

export function readYamlDocuments(path: string): unknown[] {
  return parseYamlDocuments(readFileSync(path, "utf8"), path);
}
