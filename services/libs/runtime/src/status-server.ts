/**
 * The HTTP status port every process exposes (TiDB's 10080, TiKV's 20180): `/status` for people and
 * tools, `/metrics` for Prometheus, `/health` for readiness probes, plus routes a service adds (pd's API,
 * failpoint arming). Built on node:http alone so it starts before, and outlives, everything it reports on.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import { type Clock, systemClock } from "./clock.ts";
import { type HttpListener, startHttpListener } from "./http-listener.ts";
import { asError } from "./thrown-value-error.ts";

export interface StatusRequest {
  readonly method: string;
  readonly url: URL;
  /** Request body as text; empty for GET. Bounded by MAX_REQUEST_BODY_BYTES. */
  readonly body: string;
}

export interface StatusResponse {
  /** Defaults to 200. */
  readonly status?: number;
  /** A string is sent as text/plain (or as `contentType`); anything else as JSON (bigints as decimal strings). */
  readonly body: unknown;
  /** Overrides the content type of a string body, e.g. Prometheus' exposition format. */
  readonly contentType?: string;
}

export interface StatusRoute {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly path: string;
  handle(request: StatusRequest): StatusResponse | Promise<StatusResponse>;
}

export interface StatusServerOptions {
  readonly host: string;
  /** 0 picks a free port; the chosen one is returned. */
  readonly port: number;
  readonly component: string;
  readonly version: string;
  readonly gitHash?: string;
  /** Extra fields for `/status`, merged at the top level; the built-in fields win on a name clash. */
  readonly status?: () => object | Promise<object>;
  /** `/health` answers 503 when this says false; absent means always healthy. */
  readonly healthy?: () => boolean | Promise<boolean>;
  readonly metrics: Registry;
  readonly extraRoutes?: readonly StatusRoute[];
  readonly clock?: Clock;
}

export type StatusServer = HttpListener;

/** Status and admin requests are small; a bigger body is a mistake or an attack. */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const routes = [...builtInRoutes(options), ...(options.extraRoutes ?? [])];
  return startHttpListener(options.host, options.port, (request, response) => {
    void serve(routes, request, response);
  });
}

function builtInRoutes(options: StatusServerOptions): StatusRoute[] {
  const clock = options.clock ?? systemClock;
  const startedAtMs = clock.nowMs();
  const startedMonotonicMs = clock.monotonicMs();
  return [
    {
      method: "GET",
      path: "/status",
      handle: async () => ({
        body: {
          ...(await options.status?.()),
          component: options.component,
          version: options.version,
          gitHash: options.gitHash ?? "unknown",
          startTime: new Date(startedAtMs).toISOString(),
          uptimeMs: Math.round(clock.monotonicMs() - startedMonotonicMs),
        },
      }),
    },
    {
      method: "GET",
      path: "/health",
      handle: async () =>
        (await (options.healthy?.() ?? true))
          ? { body: { status: "ok" } }
          : { status: 503, body: { status: "unhealthy" } },
    },
    {
      method: "GET",
      path: "/metrics",
      handle: async () => ({
        body: await options.metrics.metrics(),
        contentType: options.metrics.contentType,
      }),
    },
  ];
}

async function serve(
  routes: readonly StatusRoute[],
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(request.url ?? "/", "http://status.invalid");
    const samePath = routes.filter((route) => route.path === url.pathname);
    if (samePath.length === 0) throw new HttpError(404, `no route for ${url.pathname}`);
    const route = samePath.find((candidate) => candidate.method === request.method);
    if (route === undefined) {
      response.setHeader("allow", samePath.map((candidate) => candidate.method).join(", "));
      throw new HttpError(405, `method ${request.method} is not allowed on ${url.pathname}`);
    }
    const body = request.method === "GET" ? "" : await readBody(request);
    send(response, await route.handle({ method: route.method, url, body }));
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    send(response, { status, body: { error: asError(error).message } });
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length;
    if (sizeBytes > MAX_REQUEST_BODY_BYTES)
      throw new HttpError(413, `body exceeds ${MAX_REQUEST_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, result: StatusResponse): void {
  response.statusCode = result.status ?? 200;
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
