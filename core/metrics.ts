/**
 * The metric contract (docs/architecture.md, "Metrics"): one namespace, the service dimension, and each
 * service's metric names. The services emit through `MetricSink`; in AWS that is Powertools EMF (a `Metrics`
 * instance fits it as it is), in the local stack and tests an in-memory sink whose records tests assert on.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'Keyframe';

/** Every metric, by the service that emits it (the `service` dimension). infra's alarms and dashboard use these. */
export const METRIC_NAMES = {
  origin: ['OriginRequests', 'Origin4xx', 'Origin5xx', 'OriginLatency', 'UpstreamFailures'],
  'task-events': ['TaskEventsApplied', 'TaskEventsStale', 'RoutesPurged'],
  ingest: ['ActiveStreams', 'IngestLoad', 'LadderFallbacks'],
} as const;

/**
 * `IngestLoad` (ingest, Count, one data point per task per minute beside ActiveStreams): what the task's live
 * publishes cost, in **load units**, the metric the service scales on (infra/ingest-service.ts).
 *
 * One load unit is the CPU of one passthrough publish, fixed at 1/LOAD_UNITS_PER_VCPU of a vCPU (0.01 vCPU, 10
 * Fargate CPU units): the packager's measured 0.5–0.65 % of a core per stream (docs/benchmarks.md), rounded up.
 * - A passthrough publish (no ladder, or a ladder fallen back to passthrough) is 1 unit, whatever its bitrate.
 * - A transcoded ladder is 1 unit for its source variant plus its transcoder's estimated CPU in units:
 *   `1 + loadUnitsOfVcpu(estimated vCPU)`, rounded up.
 * A task's CPU holds `LOAD_UNITS_PER_VCPU × vCPU` units (100 on 1 vCPU, 400 on 4). With no ladder live,
 * IngestLoad equals ActiveStreams.
 */
export const LOAD_UNITS_PER_VCPU = 100;

/**
 * `LadderFallbacks` (ingest, Count, per minute): ladder channels' publishes that got no ladder in that minute
 * (no CPU on the task, the transcoder failed past its restarts, or ladders off): they are passed through, with a
 * warning in `keyframe status`.
 */

/** A CPU cost (vCPU, e.g. a transcoder's estimate) in load units, rounded up; 0 for none. */
export function loadUnitsOfVcpu(vcpu: number): number {
  if (!(vcpu > 0)) return 0;
  // Rounded to a millionth first, so 0.07 vCPU is 7 units and not 8 (0.07 × 100 = 7.000000000000001).
  return Math.ceil(Math.round(vcpu * LOAD_UNITS_PER_VCPU * 1e6) / 1e6);
}

export type MetricService = keyof typeof METRIC_NAMES;
export type MetricName<S extends MetricService = MetricService> = (typeof METRIC_NAMES)[S][number];
export type MetricUnitName = 'Count' | 'Milliseconds';

/** What a service writes metrics to: Powertools' `Metrics` has this shape. */
export interface MetricSink {
  addMetric(name: string, unit: MetricUnitName, value: number): void;
  /** Called after each invocation (Lambda) or interval (ingest). */
  publishStoredMetrics(): void;
}

/** CloudWatch EMF on stdout (Powertools). */
export function emfMetrics(service: MetricService): MetricSink {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service }) as unknown as MetricSink;
}

export interface MetricRecord {
  readonly name: string;
  readonly unit: MetricUnitName;
  readonly value: number;
}

/** Keeps what was published, for the local stack and tests; prints nothing. */
export interface MemoryMetrics extends MetricSink {
  readonly published: MetricRecord[];
  /** Sum of the published values of one metric. */
  total(name: string): number;
}

export function memoryMetrics(limit = 10_000): MemoryMetrics {
  let stored: MetricRecord[] = [];
  const published: MetricRecord[] = [];
  return {
    published,
    addMetric(name, unit, value) {
      stored.push({ name, unit, value });
    },
    publishStoredMetrics() {
      published.push(...stored);
      stored = [];
      if (published.length > limit) published.splice(0, published.length - limit);
    },
    total: (name) => published.reduce((sum, r) => (r.name === name ? sum + r.value : sum), 0),
  };
}
