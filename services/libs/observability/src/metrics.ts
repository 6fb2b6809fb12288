/**
 * Prometheus metrics over prom-client, named `<component>_<subsystem>_<name>_<unit>` like TiKV's
 * (`tikv_raftstore_append_log_duration_seconds`). Names are checked when a metric is created, so a
 * misnamed metric fails the first test that touches it instead of surprising a dashboard later.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Counters end in `_total` (Prometheus convention), optionally after a base unit. */
export type CounterUnit = "total" | "seconds_total" | "bytes_total";
/** Base units only (seconds, not milliseconds); `count` for gauges of things, as TiKV does (`region_count`). */
export type GaugeUnit = "seconds" | "bytes" | "ratio" | "count" | "info";
export type HistogramUnit = "seconds" | "bytes" | "count";
export type MetricUnit = CounterUnit | GaugeUnit | HistogramUnit;

export interface MetricNameParts {
  /** One word: "pd", "store", "gateway". */
  readonly component: string;
  /** One word: "tso", "raftstore", "grpc". */
  readonly subsystem: string;
  /** Lower-case words joined by `_`: "append_log_duration". */
  readonly name: string;
  readonly unit: MetricUnit;
}

/** Latency histogram buckets in seconds, 0.5 ms … 10 s: fine where local RPCs land, coarse in the tail. */
export const LATENCY_SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Size histogram buckets in bytes, 64 B … 64 MiB by powers of 4 (messages, batches, snapshots). */
export const SIZE_BYTES_BUCKETS: readonly number[] = Array.from(
  { length: 11 },
  (_, index) => 64 * 4 ** index,
);

/** Count histogram buckets, 1 … 65536 by powers of 2 (keys per batch, entries per append). */
export const COUNT_BUCKETS: readonly number[] = Array.from({ length: 17 }, (_, index) => 2 ** index);

const DEFAULT_BUCKETS: Readonly<Record<HistogramUnit, readonly number[]>> = {
  seconds: LATENCY_SECONDS_BUCKETS,
  bytes: SIZE_BYTES_BUCKETS,
  count: COUNT_BUCKETS,
};

const WORD = "[a-z][a-z0-9]*";
const UNITS = "total|seconds_total|bytes_total|seconds|bytes|ratio|count|info";
const METRIC_NAME_PATTERN = new RegExp(`^${WORD}_${WORD}_${WORD}(?:_[a-z0-9]+)*_(?:${UNITS})$`);
const WORD_PATTERN = new RegExp(`^${WORD}$`);
const NAME_PATTERN = new RegExp(`^${WORD}(?:_[a-z0-9]+)*$`);

export class MetricNameError extends Error {
  override readonly name = "MetricNameError";

  constructor(
    readonly metricName: string,
    problem: string,
  ) {
    super(`metric name "${metricName}" ${problem}`);
  }
}

/** Builds `<component>_<subsystem>_<name>_<unit>`, throwing `MetricNameError` on a malformed part. */
export function metricName(parts: MetricNameParts): string {
  const full = `${parts.component}_${parts.subsystem}_${parts.name}_${parts.unit}`;
  if (!WORD_PATTERN.test(parts.component)) throw new MetricNameError(full, "needs a one-word component");
  if (!WORD_PATTERN.test(parts.subsystem)) throw new MetricNameError(full, "needs a one-word subsystem");
  if (!NAME_PATTERN.test(parts.name)) throw new MetricNameError(full, "needs a lower_snake_case name");
  assertMetricName(full);
  return full;
}

/** For names built elsewhere: throws unless the name has the `<component>_<subsystem>_<name>_<unit>` shape. */
export function assertMetricName(name: string): void {
  if (!METRIC_NAME_PATTERN.test(name)) {
    throw new MetricNameError(
      name,
      `does not match <component>_<subsystem>_<name>_<unit> with unit one of ${UNITS}`,
    );
  }
}

/**
 * A registry with Node's process metrics (CPU, memory, event-loop lag, GC) prefixed `<component>_`, so
 * several components scraped into one Prometheus never mix their series.
 */
export function createRegistry(component: string): Registry {
  if (!WORD_PATTERN.test(component)) throw new MetricNameError(component, "is not a one-word component");
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `${component}_` });
  return registry;
}

interface MetricSpec<Unit extends MetricUnit, LabelName extends string> {
  readonly subsystem: string;
  readonly name: string;
  readonly unit: Unit;
  readonly help: string;
  readonly labelNames?: readonly LabelName[];
}

/** Creates metrics for one component on one registry, building and checking every name. */
export class MetricFactory {
  constructor(
    readonly registry: Registry,
    readonly component: string,
  ) {}

  counter<LabelName extends string = never>(spec: MetricSpec<CounterUnit, LabelName>): Counter<LabelName> {
    return new Counter({ ...this.common(spec), labelNames: spec.labelNames ?? [] });
  }

  gauge<LabelName extends string = never>(spec: MetricSpec<GaugeUnit, LabelName>): Gauge<LabelName> {
    return new Gauge({ ...this.common(spec), labelNames: spec.labelNames ?? [] });
  }

  /** Buckets default to the preset for the unit: LATENCY_SECONDS_BUCKETS, SIZE_BYTES_BUCKETS or COUNT_BUCKETS. */
  histogram<LabelName extends string = never>(
    spec: MetricSpec<HistogramUnit, LabelName> & { readonly buckets?: readonly number[] },
  ): Histogram<LabelName> {
    return new Histogram({
      ...this.common(spec),
      labelNames: spec.labelNames ?? [],
      buckets: [...(spec.buckets ?? DEFAULT_BUCKETS[spec.unit])],
    });
  }

  private common(spec: MetricSpec<MetricUnit, string>) {
    const name = metricName({
      component: this.component,
      subsystem: spec.subsystem,
      name: spec.name,
      unit: spec.unit,
    });
    return { name, help: spec.help, registers: [this.registry] };
  }
}
