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
  ingest: ['ActiveStreams'],
} as const;

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
