/**
 * A small node:http server with path parameters (`/pd/api/v1/store/{id}`), which the shared status server
 * does not offer. pd serves its API, `/status`, `/metrics` and `/health` from it on one port. Responses
 * are JSON with bigints as decimal strings (a JavaScript reader would round them as numbers); errors are
 * `{"error": message}` with a fitting status code.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type HttpListener, startHttpListener } from "#runtime";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  /** Values of the `{name}` segments of the route pattern, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Raw body text; empty for GET. */
  readonly body: string;
}

export interface HttpResponse {
  /** Defaults to 200. */
  readonly status?: number;
  /** A string goes out as text (or `contentType`); anything else as JSON. */
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface HttpRoute {
  readonly method: HttpMethod;
  /** Literal segments and `{name}` parameters, e.g. `/pd/api/v1/region/id/{id}`. */
  readonly pattern: string;
  handle(request: HttpRequest): HttpResponse | Promise<HttpResponse>;
}

/** Thrown by handlers to answer with a status code and message. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type HttpServerHandle = HttpListener;

export const MAX_HTTP_BODY_BYTES = 1024 * 1024;

interface CompiledRoute {
  readonly route: HttpRoute;
  readonly segments: readonly string[];
}

export async function startHttpServer(options: {
  readonly host: string;
  readonly port: number;
  readonly routes: readonly HttpRoute[];
  /** Told about handler failures that became 500 responses. */
  readonly onError?: (error: unknown) => void;
}): Promise<HttpServerHandle> {
  const compiled = options.routes.map((route) => ({ route, segments: splitPath(route.pattern) }));
  return startHttpListener(options.host, options.port, (request, response) => {
    // `serve` answers every failure with an error response, so it never rejects.
    void serve(compiled, request, response, options.onError);
  });
}

async function serve(
  routes: readonly CompiledRoute[],
  request: IncomingMessage,
  response: ServerResponse,
  onError: ((error: unknown) => void) | undefined,
): Promise<void> {
  try {
    const url = new URL(request.url ?? "/", "http://pd.invalid");
    const segments = splitPath(url.pathname);
    const matches = routes.flatMap((compiled) => {
      const params = match(compiled.segments, segments);
      return params === undefined ? [] : [{ route: compiled.route, params }];
    });
    if (matches.length === 0) throw new HttpError(404, `no route for ${url.pathname}`);
    const found = matches.find((candidate) => candidate.route.method === request.method);
    if (found === undefined) {
      response.setHeader(
        "allow",
        [...new Set(matches.map((candidate) => candidate.route.method))].join(", "),
      );
      throw new HttpError(405, `method ${request.method} is not allowed on ${url.pathname}`);
    }
    const body = request.method === "GET" ? "" : await readBody(request);
    send(response, await found.route.handle({ method: found.route.method, url, params: found.params, body }));
  } catch (error) {
    if (!(error instanceof HttpError)) onError?.(error);
    // A failure while the response was being written can only be told by ending the connection.
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const status = error instanceof HttpError ? error.status : 500;
    send(response, { status, body: { error: error instanceof Error ? error.message : String(error) } });
  }
}

function splitPath(path: string): string[] {
  return path.split("/").filter((segment) => segment.length > 0);
}

function match(pattern: readonly string[], path: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let index = 0; index < pattern.length; index++) {
    const expected = pattern[index]!;
    const actual = path[index]!;
    if (expected.startsWith("{") && expected.endsWith("}")) {
      params[expected.slice(1, -1)] = decodeSegment(actual);
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `path segment "${segment}" is not valid percent-encoding`);
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length;
    if (sizeBytes > MAX_HTTP_BODY_BYTES)
      throw new HttpError(413, `body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, result: HttpResponse): void {
  response.statusCode = result.status ?? 200;
  for (const [name, value] of Object.entries(result.headers ?? {})) response.setHeader(name, value);
  if (typeof result.body === "string") {
    response.setHeader("content-type", result.contentType ?? "text/plain; charset=utf-8");
    response.end(result.body);
    return;
  }
  const text = JSON.stringify(result.body, (_, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value,
  );
  response.setHeader("content-type", "application/json; charset=utf-8");
  response.end(`${text}\n`);
}
