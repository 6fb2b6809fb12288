/** Paths of the files the deployment tests check, relative to the repository root. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPOSITORY_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export function repositoryPath(...segments: string[]): string {
  return join(REPOSITORY_ROOT, ...segments);
}
