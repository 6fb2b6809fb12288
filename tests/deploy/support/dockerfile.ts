/**
 * Just enough of the Dockerfile syntax for the image tests: instructions joined across `\` line
 * continuations, grouped into stages, with ENV pairs and exec-form (JSON array) arguments decoded.
 */

export interface Instruction {
  readonly keyword: string;
  readonly arguments: string;
}

export interface Stage {
  readonly baseImage: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

export function parseDockerfile(text: string): readonly Stage[] {
  const stages: { baseImage: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructionsOf(text)) {
    if (instruction.keyword === "FROM") {
      const [baseImage = "", as, name] = instruction.arguments.split(/\s+/);
      stages.push({ baseImage, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`${instruction.keyword} before the first FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

function instructionsOf(text: string): Instruction[] {
  const logicalLines: string[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line) || (pending === "" && line.trim() === "")) continue;
    const continued = line.endsWith("\\");
    pending += `${continued ? line.slice(0, -1) : line} `;
    if (!continued) {
      logicalLines.push(pending.trim());
      pending = "";
    }
  }
  return logicalLines.map((line) => {
    const [keyword = "", ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), arguments: rest.join(" ") };
  });
}

export function instructions(stage: Stage, keyword: string): readonly string[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword).map((i) => i.arguments);
}

/** `ENV A=1 B=2` pairs of a stage (values without spaces or quotes, which is all this Dockerfile uses). */
export function environmentOf(stage: Stage): Readonly<Record<string, string>> {
  return Object.fromEntries(
    instructions(stage, "ENV").flatMap((line) =>
      line.split(/\s+/).map((pair) => {
        const equalsAt = pair.indexOf("=");
        if (equalsAt <= 0) throw new Error(`ENV "${line}" is not written KEY=value`);
        return [pair.slice(0, equalsAt), pair.slice(equalsAt + 1)];
      }),
    ),
  );
}

/** Arguments of an exec-form instruction such as `ENTRYPOINT ["tessera"]`. */
export function execForm(argumentsText: string): readonly string[] {
  const parsed: unknown = JSON.parse(argumentsText);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "string")) {
    throw new Error(`"${argumentsText}" is not an exec-form JSON array of strings`);
  }
  return parsed;
}

/**
 * Whether .dockerignore keeps `path` (relative, forward slashes) out of the build context. Supports the
 * pattern forms .dockerignore files commonly use: literal paths, `*`, `**` and `!` exceptions.
 */
export function isIgnored(path: string, dockerignore: string): boolean {
  let ignored = false;
  for (const raw of dockerignore.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    const pattern = patternRegExp(negated ? line.slice(1) : line);
    // A pattern matching a directory excludes everything below it.
    const candidates = path.split("/").map((_, index, parts) => parts.slice(0, index + 1).join("/"));
    if (candidates.some((candidate) => pattern.test(candidate))) ignored = !negated;
  }
  return ignored;
}

function patternRegExp(pattern: string): RegExp {
  const cleaned = pattern.replace(/^\/+|\/+$/g, "");
  let source = "";
  for (let index = 0; index < cleaned.length; index++) {
    const character = cleaned[index]!;
    if (cleaned.startsWith("**/", index)) {
      source += "(?:.*/)?";
      index += 2;
    } else if (cleaned.startsWith("**", index)) {
      source += ".*";
      index += 1;
    } else if (character === "*") source += "[^/]*";
    else if (character === "?") source += "[^/]";
    else source += character.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
